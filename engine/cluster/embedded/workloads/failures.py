"""What keeps a container from existing, with the kubelet's reasons and messages: the image cannot be pulled
(`PullFailure`) or the container cannot be created (`ConfigProblem`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .references import ImageReference


@dataclass(frozen=True)
class PullFailure:
    """An image that cannot be pulled, with the kubelet's messages.

    While `reason` is ErrImagePull the kubelet retries with back-off, reporting ImagePullBackOff with
    `backoff_message`; InvalidImageName is final."""

    requested: str
    reason: Literal["ErrImagePull", "InvalidImageName"]
    message: str
    event_reason: str
    event_message: str

    @classmethod
    def not_found(cls, requested: str, reference: ImageReference) -> PullFailure:
        ref = str(reference)
        error = (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
            f"failed to resolve image: {ref}: not found"
        )
        return cls(requested, "ErrImagePull", error, "Failed", f'Failed to pull image "{requested}": {error}')

    @classmethod
    def invalid_name(cls, requested: str, error: str) -> PullFailure:
        message = f'Failed to apply default image tag "{requested}": couldn\'t parse image name "{requested}": {error}'
        return cls(requested, "InvalidImageName", message, "InspectFailed", message)

    @property
    def retryable(self) -> bool:
        return self.reason == "ErrImagePull"

    @property
    def pulling_message(self) -> str:
        """The Pulling event's message (emitted before each attempt)."""
        return pulling_message(self.requested)

    @property
    def backoff_message(self) -> str:
        """The container's waiting message while in ImagePullBackOff."""
        return f'Back-off pulling image "{self.requested}": {self.reason}: {self.message}'

    @property
    def backoff_event_message(self) -> str:
        """The BackOff event's message."""
        return f'Back-off pulling image "{self.requested}"'


def pulling_message(requested: str) -> str:
    """The Pulling event's message for the image as written in the pod spec."""
    return f'Pulling image "{requested}"'


@dataclass(frozen=True)
class ConfigProblem:
    """Why a container cannot be created.

    reason FailedMount: a volume of the pod cannot be set up; the pod stays ContainerCreating (no image is
    pulled) and the kubelet emits FailedMount events with `event_message`.
    reason CreateContainerConfigError: the container's waiting reason, with `message`; the kubelet emits a
    Failed event with `event_message` and retries on every sync."""

    reason: Literal["FailedMount", "CreateContainerConfigError"]
    message: str
    volume: str | None = None

    @property
    def waiting_reason(self) -> str:
        return "ContainerCreating" if self.reason == "FailedMount" else self.reason

    @property
    def event_reason(self) -> str:
        return "FailedMount" if self.reason == "FailedMount" else "Failed"

    @property
    def event_message(self) -> str:
        if self.reason == "FailedMount":
            return f'MountVolume.SetUp failed for volume "{self.volume}" : {self.message}'
        return f"Error: {self.message}"


def config_error(message: str) -> ConfigProblem:
    """A CreateContainerConfigError with `message`."""
    return ConfigProblem("CreateContainerConfigError", message)
