"""Per-cluster settings of the embedded cluster: how fast simulated workloads move, and which images exist.

Kept in `settings.json` in the cluster's state folder (a lab writes it before `up`), so a restarted daemon
behaves the same. `DRIFTLAB_TIMING_SCALE` multiplies every delay: tests set it to 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...errors import DriftlabError
from ...paths import write_private

SETTINGS_FILE = "settings.json"


class PodTimings(BaseModel):
    """Seconds each kubelet step takes, so a learner can watch Pending → ContainerCreating → Running."""

    model_config = ConfigDict(extra="forbid")

    schedule: float = Field(0.1, ge=0, description="Pending before the pod is bound to the node.")
    pull: float = Field(0.4, ge=0, description="Pulling an image that is not cached on the node yet.")
    create: float = Field(0.2, ge=0, description="Creating a container after its image is present.")
    start: float = Field(0.2, ge=0, description="From Created to Started (Running).")
    terminate: float = Field(0.5, ge=0, description="Grace period actually spent killing a container.")
    backoff_base: float = Field(10.0, ge=0, description="First CrashLoopBackOff / ImagePullBackOff delay.")
    backoff_max: float = Field(300.0, ge=0, description="Longest back-off, as on the real kubelet.")

    def scaled(self, factor: float) -> PodTimings:
        return PodTimings(**{name: value * factor for name, value in self.model_dump().items()})


class ClusterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timings: PodTimings = Field(default_factory=PodTimings)
    image_catalogue: Path | None = Field(None, description="A lab's images.yaml; None: the built-in catalogue.")

    @classmethod
    def load(cls, state: Path) -> ClusterSettings:
        path = state / SETTINGS_FILE
        try:
            settings = cls.model_validate(json.loads(path.read_text())) if path.exists() else cls()
        except (ValueError, ValidationError) as err:
            raise DriftlabError(f"{path}: invalid cluster settings: {err}") from err
        scale = os.environ.get("DRIFTLAB_TIMING_SCALE")
        if scale:
            try:
                factor = float(scale)
            except ValueError as err:
                raise DriftlabError(f"DRIFTLAB_TIMING_SCALE must be a number, not {scale!r}") from err
            settings = settings.model_copy(update={"timings": settings.timings.scaled(factor)})
        return settings

    def save(self, state: Path) -> None:
        write_private(state / SETTINGS_FILE, self.model_dump_json(indent=2))
