"""The shape of `course.yaml` and `lab.yaml`, as pydantic models (and so as the JSON Schema authors' editors use).

Unknown fields are errors everywhere, and values are not coerced (`"3"` is not a number), so a typo never
silently changes what a course does. Paths in a course are relative to the course's folder; paths in a lab are
relative to the lab's folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .. import durations
from ..checks.spec import Check
from ..cluster.embedded.settings import PodTimings
from ..errors import DriftlabError
from .assets import resolve_asset

DEFAULT_IMAGES = "images.yaml"
LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_LABEL_RE = re.compile(LABEL_PATTERN)
_DURATION_RE = re.compile(DURATION_PATTERN)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ----------------------------------------------------------------------------------------------------
# Small value types


def parse_duration(text: str) -> float:
    """Seconds in a duration written as Go and kubectl write them: `90s`, `45m`, `1h30m`, `500ms`."""
    found = durations.seconds(text) if _DURATION_RE.match(text) else None
    if found is None:
        raise ValueError(f"bad duration {text!r}")
    return found


def _label(value: str) -> str:
    if not _LABEL_RE.match(value):
        raise PydanticCustomError(
            "dns_label",
            "'{value}' is not a valid name: use at most 63 lowercase letters, digits and '-', starting and "
            "ending with a letter or digit",
            {"value": value},
        )
    return value


def _duration_text(value: str) -> str:
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise PydanticCustomError(
            "duration", "bad duration '{value}': write it like 90s, 45m or 1h30m", {"value": value}
        ) from None
    if seconds <= 0:
        raise PydanticCustomError("duration", "a duration must be longer than zero, found '{value}'", {"value": value})
    return value


def _seconds(value: Any) -> Any:
    """Numbers pass through (the strict float check judges them); text must be a duration."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            raise PydanticCustomError(
                "duration",
                "bad duration '{value}': give a number of seconds or a duration such as 90s, 2m or 1h30m",
                {"value": value},
            ) from None
    return value


Label = Annotated[
    str,
    AfterValidator(_label),
    WithJsonSchema({"type": "string", "pattern": LABEL_PATTERN, "maxLength": 63}),
]
"""A DNS label: what Kubernetes accepts as a namespace name, and what a step id must look like."""

Duration = Annotated[
    str,
    AfterValidator(_duration_text),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["45m", "1h30m"]}),
]

Seconds = Annotated[
    float,
    BeforeValidator(_seconds),
    Field(ge=0),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "examples": [30, "90s", "2m"],
        }
    ),
]


def _shape(value: Any) -> str | None:
    """The union branch a YAML value belongs to, chosen by its shape so errors come from one branch only."""
    if isinstance(value, str):
        return "(text)"
    if isinstance(value, dict):
        return "(mapping)"
    return None


# ----------------------------------------------------------------------------------------------------
# Course


class InstructionsFile(_Model):
    """Instructions kept in a Markdown file beside course.yaml."""

    file: str = Field(description="Path of the Markdown file, relative to the course's folder.")


Instructions = Annotated[
    Annotated[str, Tag("(text)")] | Annotated[InstructionsFile, Tag("(mapping)")],
    Discriminator(
        _shape,
        custom_error_type="shape",
        custom_error_message="expected Markdown text or a mapping such as {file: step1.md}",
    ),
]

Manifest = dict[str, Any]


class DeleteTarget(_Model):
    """Objects to delete, named as `kubectl delete KIND NAME` or `kubectl delete KIND -l SELECTOR` would."""

    kind: str = Field(description="Kind, plural or short name as kubectl accepts it.")
    name: str | None = None
    namespace: str | None = Field(None, description="Defaults to the action's or the course's namespace.")
    selector: str | None = Field(None, description="A label selector, as in kubectl -l.")


ApplySource = Annotated[
    Annotated[str, Tag("(text)")] | Annotated[Manifest, Tag("(mapping)")],
    Discriminator(
        _shape,
        custom_error_type="shape",
        custom_error_message="expected a manifest file or folder (relative to the course) or an inline manifest",
    ),
]

DeleteSource = Annotated[
    Annotated[str, Tag("(text)")] | Annotated[DeleteTarget, Tag("(mapping)")],
    Discriminator(
        _shape,
        custom_error_type="shape",
        custom_error_message="expected a manifest file (relative to the course) or a mapping with kind and name",
    ),
]

SETUP_ACTIONS = ("run", "apply", "delete")


class SetupAction(_Model):
    """One thing done, unseen, when a step starts (or is reset): exactly one of `run`, `apply`, `delete`."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": [name]} for name in SETUP_ACTIONS]})

    run: str | None = Field(None, description="A shell command, run in the course's folder with the lab's KUBECONFIG.")
    apply: ApplySource | None = Field(
        None, description="A manifest file or folder relative to the course's folder, or an inline manifest."
    )
    delete: DeleteSource | None = Field(
        None, description="A manifest file relative to the course's folder, or the kind and name of what to delete."
    )
    namespace: Label | None = Field(None, description="Namespace for apply and delete; defaults to the course's.")

    @model_validator(mode="after")
    def _one_action(self) -> SetupAction:
        chosen = [name for name in SETUP_ACTIONS if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise PydanticCustomError(
                "one_action",
                "a setup action needs exactly one of run, apply, delete (found: {found})",
                {"found": ", ".join(chosen) or "none"},
            )
        return self

    @property
    def kind(self) -> str:
        return next(name for name in SETUP_ACTIONS if getattr(self, name) is not None)


class FileEdit(_Model):
    """A file the learner edits as part of the solution: new content, or a unified diff to apply."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["content"]}, {"required": ["patch"]}]})

    path: str = Field(description="Path of the file in the learner's working folder.")
    content: str | None = Field(None, description="The whole new content of the file.")
    patch: str | None = Field(None, description="A unified diff (as `diff -u` or `git diff` writes it).")

    @model_validator(mode="after")
    def _one_edit(self) -> FileEdit:
        if (self.content is None) == (self.patch is None):
            raise PydanticCustomError("one_edit", "a file edit needs exactly one of content, patch")
        return self


class Solution(_Model):
    """What a learner would do to pass the step; `driftlab course test` runs it through a real shell."""

    commands: list[str] = Field(default_factory=list, description="Commands typed in order, as a learner would.")
    files: list[FileEdit] = Field(default_factory=list, description="File edits made before the commands run.")


class Step(_Model):
    """One step of a course: what to read, what gets set up, what is checked, and how to get there."""

    id: Label = Field(description="Unique in the course; used by `--step`, progress files and URLs.")
    title: str
    instructions: Instructions = Field(description="Markdown shown to the learner, inline or as {file: step.md}.")
    setup: list[SetupAction] = Field(default_factory=list, description="Actions run when the step starts.")
    checks: list[Check] = Field(default_factory=list, description="What must be true of the cluster to pass.")
    hints: list[str] = Field(default_factory=list, description="Markdown hints, revealed one at a time.")
    solution: Solution | None = None
    timeout: Seconds | None = Field(
        None, description="How long the checks may take to pass after the solution ran (seconds or 2m)."
    )


class _FromFile(_Model):
    """A model read from a YAML file, whose relative paths resolve against that file's folder."""

    _source: Path | None = PrivateAttr(None)

    @property
    def source(self) -> Path:
        if self._source is None:
            loader = "load_course()" if isinstance(self, Course) else "load_lab()"
            raise DriftlabError(f"this {type(self).__name__.lower()} was not loaded from a file; use {loader}")
        return self._source

    @property
    def folder(self) -> Path:
        return self.source.parent

    @property
    def name(self) -> str:
        """The folder's name: what `driftlab lab up COURSE`, progress files and lab references use."""
        return self.folder.name


class Course(_FromFile):
    """A driftlab course: metadata, the lab it runs on, and its ordered steps."""

    title: str
    summary: str = Field(description="One or two sentences shown in the course list.")
    duration: Duration = Field(description="How long the course takes, e.g. 45m or 1h30m.")
    level: Literal["beginner", "intermediate", "advanced"]
    tags: list[str] = Field(default_factory=list)
    order: int | None = Field(
        None,
        ge=0,
        description="Place in the curriculum: course lists show courses by order, then by folder name; courses "
        "without one come last.",
    )
    lab: str = Field(
        description="Name of the lab (labs/<lab>/lab.yaml, found beside the course's courses/ folder or among "
        "driftlab's labs), or a path to a lab folder starting with ./ or ../ (relative to the course)."
    )
    namespace: Label = Field("default", description="Namespace of checks and setup actions that name none.")
    steps: list[Step] = Field(min_length=1)

    _lab_folder: Path | None = PrivateAttr(None)

    def bind(self, source: Path, lab_folder: Path | None) -> Course:
        """Remember which file the course came from, so its relative paths can be resolved."""
        self._source = source
        self._lab_folder = lab_folder
        return self

    @property
    def lab_folder(self) -> Path:
        if self._lab_folder is None:
            raise DriftlabError(f"the lab {self.lab!r} of this course was not found")
        return self._lab_folder

    @property
    def duration_seconds(self) -> float:
        return parse_duration(self.duration)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        known = ", ".join(step.id for step in self.steps)
        raise DriftlabError(f"course {self.name!r} has no step {step_id!r}; its steps are: {known}")

    def instructions(self, step: Step) -> str:
        """The step's Markdown, read from its file when it has one."""
        if isinstance(step.instructions, str):
            return step.instructions
        return resolve_asset(self.folder, step.instructions.file, "the course's").read_text()


# ----------------------------------------------------------------------------------------------------
# Lab


class Repo(_Model):
    """A repository the lab's Git server serves, seeded from labs/<lab>/repos/<name>/."""

    name: Label = Field(description="Repository name; its seed content is labs/<lab>/repos/<name>/.")
    branch: str = Field("main", description="Branch the seed content is committed to.")


class Lab(_FromFile):
    """A lab: the cluster a course runs on and what it is seeded with before the first step."""

    title: str
    backend: Literal["embedded", "kind", "any"] = Field(
        "any", description="Where the lab can run: the embedded cluster, kind (needs Docker), or either."
    )
    namespaces: list[Label] = Field(default_factory=list, description="Namespaces created at lab up.")
    seed: list[str] = Field(
        default_factory=list,
        description="Manifest files or folders (relative to the lab's folder) applied in order at lab up.",
    )
    images: str | None = Field(
        None,
        description="The image catalogue of simulated workloads, relative to the lab; defaults to images.yaml "
        "when the lab has one.",
    )
    repos: list[Repo] = Field(
        default_factory=list, description="Git repositories the lab's Git server serves, seeded from repos/<name>/."
    )
    timings: PodTimings | None = Field(
        None,
        description="Seconds each step of a simulated pod's start takes on the embedded cluster (schedule, pull, "
        "create, start, terminate, back-off); the default lets a learner watch the transitions.",
    )
    agents: list[Literal["flux", "argocd"]] = Field(
        default_factory=list,
        description="GitOps agents running in the lab: on the embedded cluster, driftlab's own Flux (GitRepository, "
        "Kustomization) and Argo CD (Application) controllers, with their CRDs installed before the seed.",
    )
    bootstrap: list[str] = Field(
        default_factory=list,
        description="Manifest files or folders (relative to the lab's folder) applied once the Git server and "
        "agents run, after the seed: they may use ${DRIFTLAB_GIT_URL}, ${DRIFTLAB_GIT_USERNAME} and "
        "${DRIFTLAB_GIT_PASSWORD} (the read-only deploy account), as `flux bootstrap` would.",
    )

    def bind(self, source: Path) -> Lab:
        self._source = source
        return self

    def seed_paths(self) -> list[Path]:
        return [resolve_asset(self.folder, entry, "the lab's") for entry in self.seed]

    def bootstrap_paths(self) -> list[Path]:
        return [resolve_asset(self.folder, entry, "the lab's") for entry in self.bootstrap]

    def images_path(self) -> Path | None:
        """The lab's image catalogue: the one it names, else its images.yaml if it has one."""
        if self.images:
            return resolve_asset(self.folder, self.images, "the lab's")
        conventional = self.folder / DEFAULT_IMAGES
        return conventional if conventional.is_file() else None
