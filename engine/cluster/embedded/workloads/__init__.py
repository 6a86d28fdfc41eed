"""Simulated workloads of the embedded cluster: the image catalogue and what containers do.

The embedded cluster runs no containers. The simulated kubelet uses `load_catalogue` once per lab, then per
container `Catalogue.resolve` (an `ImageBehaviour`, or a `PullFailure`), `ImageBehaviour.start_check` (a
`ConfigProblem` or None) and `ImageBehaviour.plan` (a `RunPlan`: exit, logs and probe answers over time);
`ImageBehaviour.http_response` says what a container answers on HTTP. A catalogue is YAML: the built-in
default_images.yaml, extended by a lab's `labs/<lab>/images.yaml`; model.py describes every field. Images
the catalogue does not know start normally, log one line and answer HTTP 200.

Each module imports only modules listed before it (shell/ is a subpackage with its own order):
  errors, access, clock, templates, events, positions, units, references, context, sources, failures, model,
  shell/, environment, volumes, http, probes, plan, runs, start, image, catalogue, loader.
"""

from .catalogue import Catalogue
from .environment import NODE_ALLOCATABLE, expand_references
from .errors import CatalogueError, InvalidImageReference, NotListening, WorkloadError
from .failures import ConfigProblem, PullFailure
from .http import HttpAnswer, HttpRequest
from .image import ImageBehaviour
from .loader import load_catalogue, parse_catalogue
from .model import GENERIC_BEHAVIOUR, Behaviour, Repository
from .plan import ExitPlan, LogLine, RunPlan
from .probes import ProbeResult, ProbeTimeline
from .references import DEFAULT_TAG, ImageReference, parse_image_reference
from .runs import OOM_AFTER_SECONDS
from .sources import Lookup, StaticLookup
from .templates import PLACEHOLDERS, parse_template
from .units import go_duration, parse_quantity
from .volumes import volume_problem

__all__ = [
    "DEFAULT_TAG",
    "GENERIC_BEHAVIOUR",
    "NODE_ALLOCATABLE",
    "OOM_AFTER_SECONDS",
    "PLACEHOLDERS",
    "Behaviour",
    "Catalogue",
    "CatalogueError",
    "ConfigProblem",
    "ExitPlan",
    "HttpAnswer",
    "HttpRequest",
    "ImageBehaviour",
    "ImageReference",
    "InvalidImageReference",
    "LogLine",
    "Lookup",
    "NotListening",
    "ProbeResult",
    "ProbeTimeline",
    "PullFailure",
    "Repository",
    "RunPlan",
    "StaticLookup",
    "WorkloadError",
    "expand_references",
    "go_duration",
    "load_catalogue",
    "parse_catalogue",
    "parse_image_reference",
    "parse_quantity",
    "parse_template",
    "volume_problem",
]
