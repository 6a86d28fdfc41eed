"""The catalogue format: pydantic models of one YAML catalogue file, validated field by field.

The class names appear in validation messages, so they read as the catalogue's vocabulary."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from .errors import InvalidImageReference, WorkloadError
from .references import check_digest, derived_digest, is_tag, parse_image_reference
from .templates import parse_template
from .units import parse_quantity


def _check_template(value: str) -> str:
    parse_template(value)
    return value


def _check_quantity(value: str) -> str:
    try:
        parse_quantity(value)
    except WorkloadError as err:
        raise ValueError(str(err)) from None
    return value


def _check_digest(value: str) -> str:
    try:
        check_digest(value)
    except InvalidImageReference as err:
        raise ValueError(f"{err} (expected sha256:<64 lowercase hex digits>)") from None
    return value


def _check_absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path")
    return posixpath.normpath(value)


def _check_json_templates(value: Any) -> Any:
    if isinstance(value, str):
        parse_template(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            _check_json_templates(item)
    elif isinstance(value, list):
        for item in value:
            _check_json_templates(item)
    return value


def _shorthand(key: str) -> Callable[[Any], Any]:
    """Accept a bare string where a one-field mapping is meant (`- COLOR` for `- name: COLOR`)."""
    return lambda value: {key: value} if isinstance(value, str) else value


TemplateStr = Annotated[str, AfterValidator(_check_template)]
Quantity = Annotated[str, AfterValidator(_check_quantity)]
Digest = Annotated[str, AfterValidator(_check_digest)]
AbsolutePath = Annotated[str, AfterValidator(_check_absolute)]
JsonBody = Annotated[dict[str, Any], AfterValidator(_check_json_templates)]
# Blocks a tag merges key by key over `default`; every other field it sets replaces the default's.
_MERGED_FIELDS = frozenset({"http", "logs", "env"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True, populate_by_name=True)


class LogLineSpec(_Model):
    """One log line written at start, or `after` seconds after start. A bare string means `after: 0`."""

    line: TemplateStr
    after: float = Field(0.0, ge=0)


LogEntry = Annotated[LogLineSpec, BeforeValidator(_shorthand("line"))]


class PeriodicLogs(_Model):
    """Lines written again and again while the container runs, cycling through `lines`."""

    every: float = Field(gt=0, description="seconds between two lines")
    lines: list[TemplateStr] = Field(min_length=1)
    after: float | None = Field(None, ge=0, description="seconds before the first line; default `every`")


class Logs(_Model):
    """What the container writes to its log (what `kubectl logs` shows)."""

    start: list[LogEntry] = Field(default_factory=list, description="lines written when the app starts")
    periodic: PeriodicLogs | None = None
    crash: list[TemplateStr] = Field(
        default_factory=list, description="lines written just before the container exits because of `crash`"
    )


def _probe_shorthand(value: Any) -> Any:
    if value == "pass":
        return {"pass_after": 0}
    if value == "fail":
        return {"fail_after": 0}
    return value


class ProbeOutcomeSpec(_Model):
    """What readiness or liveness probes report over time: passing from `pass_after` seconds after start,
    until `fail_after` (if set). Write `pass` or `fail` for the constant outcomes.

    The outcome only matters if the pod defines the probe; the kubelet applies it with the probe's own
    timing (initialDelaySeconds, periodSeconds, failureThreshold)."""

    pass_after: float = Field(0.0, ge=0)
    fail_after: float | None = Field(None, ge=0)
    status: int = Field(503, ge=100, le=599, description="status an httpGet probe gets while failing")
    message: TemplateStr | None = Field(None, description="output of a failing exec or gRPC probe")


ProbeOutcome = Annotated[ProbeOutcomeSpec, BeforeValidator(_probe_shorthand)]


class HttpRoute(_Model):
    """One HTTP answer: status, headers and a body (a template, or `json`: a mapping rendered as JSON whose
    string values are templates)."""

    status: int = Field(200, ge=100, le=599)
    body: TemplateStr | None = None
    json_body: JsonBody | None = Field(None, alias="json")
    content_type: str | None = None
    headers: dict[str, TemplateStr] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_body(self) -> HttpRoute:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give either body or json, not both")
        return self


class Http(HttpRoute):
    """The HTTP server of the app. Without an `http` block the container listens on nothing."""

    port: int | None = Field(None, ge=1, le=65535, description="port it listens on; unset: any port")
    paths: dict[str, HttpRoute] = Field(default_factory=dict, description="answers for specific paths")
    docroot: AbsolutePath | None = Field(
        None, description="serve files below this directory (image `files` and mounted volumes)"
    )
    not_found: HttpRoute | None = Field(None, description="answer for paths not found below `docroot`")
    access_log: TemplateStr | None = Field(None, description="log line written for each request")


class EnvRequirement(_Model):
    """An environment variable the app needs: set and not empty, and equal to `value` if given."""

    name: str = Field(min_length=1, pattern=r"^[^=]+$")
    value: str | None = None
    message: TemplateStr | None = Field(None, description="log line written when it is missing")


class ConfigRequirement(_Model):
    """A ConfigMap/Secret key the app needs, by env valueFrom/envFrom or as a file in a mounted volume."""

    key: str = Field(min_length=1)
    message: TemplateStr | None = None


class FileRequirement(_Model):
    """A file (or a directory with at least one file) that must exist in the container, which in practice
    means a ConfigMap/Secret/projected volume mounted over it that holds the key."""

    path: AbsolutePath
    message: TemplateStr | None = None


class Requirements(_Model):
    """What the app needs at start. If anything is missing the app logs one line per missing item and exits
    with `exit_code` after `after` seconds (the kubelet turns that into CrashLoopBackOff).

    Env vars and keys the pod spec references but which do not exist never get this far: the kubelet reports
    CreateContainerConfigError (env) or FailedMount (volumes) first, for every image."""

    env: list[Annotated[EnvRequirement, BeforeValidator(_shorthand("name"))]] = Field(default_factory=list)
    config: list[Annotated[ConfigRequirement, BeforeValidator(_shorthand("key"))]] = Field(default_factory=list)
    files: list[Annotated[FileRequirement, BeforeValidator(_shorthand("path"))]] = Field(default_factory=list)
    exit_code: int = Field(1, ge=1, le=255)
    after: float = Field(0.0, ge=0)


class Condition(_Model):
    """A condition on the container's environment; every listed item must hold."""

    env_missing: list[str] = Field(default_factory=list)
    env_set: list[str] = Field(default_factory=list)
    env_equals: dict[str, str] = Field(default_factory=dict)
    config_missing: list[str] = Field(default_factory=list)
    config_set: list[str] = Field(default_factory=list)
    files_missing: list[AbsolutePath] = Field(default_factory=list)


class Crash(_Model):
    """The container exits with `exit_code` `after` seconds, only `when` the condition holds if given.
    Exit code 0 makes the container Complete (a Job's workload)."""

    exit_code: int = Field(1, ge=0, le=255)
    after: float = Field(0.0, ge=0)
    when: Condition | None = None


class Behaviour(_Model):
    """How the containers of one image behave. Every field is optional.

    In a repository, `default` applies to every tag and a tag's own block overrides it field by field; the
    `http`, `logs` and `env` blocks merge key by key, so a tag can change one answer or add one line."""

    version: str | None = Field(None, description="what the app reports as its version; default: the tag")
    digest: Digest | None = Field(None, description="sha256 digest of the image; default: derived from the tag")
    size: int | None = Field(None, ge=0, description="image size in bytes (the Pulled event)")
    user: str = Field("0", description="the image's USER (uid, uid:gid or a name); runAsNonRoot checks it")
    runs: Literal["app", "command"] = Field(
        "app",
        description="app: the image runs its own program, described by this block; command: a base image "
        "(busybox, alpine) that runs the container's command/args through a small shell simulation",
    )
    cmd: list[str] = Field(default_factory=lambda: ["sh"], description="command of `runs: command` images")
    env: dict[str, TemplateStr] = Field(default_factory=dict, description="the image's ENV")
    files: dict[AbsolutePath, TemplateStr] = Field(default_factory=dict, description="files the image ships")
    memory: Quantity | None = Field(None, description="memory the app uses; a lower limit gets it OOM-killed")
    sigterm: Literal["exit", "ignore"] = Field(
        "exit", description="ignore: only SIGKILL after the grace period stops it"
    )
    requires: Requirements = Field(default_factory=Requirements)
    crash: Crash | None = None
    readiness: ProbeOutcome = Field(default_factory=ProbeOutcomeSpec)
    liveness: ProbeOutcome = Field(default_factory=ProbeOutcomeSpec)
    logs: Logs = Field(default_factory=Logs)
    http: Http | None = None


class TagEntry(Behaviour):
    """A tag's behaviour; or `same_as: <tag>` for a tag that is the same image as another (`latest`)."""

    same_as: str | None = None

    @model_validator(mode="after")
    def _alias_alone(self) -> TagEntry:
        if self.same_as is not None and self.model_fields_set - {"same_as"}:
            raise ValueError("a tag with same_as is the other tag's image and takes no other fields")
        return self


class Repository(_Model):
    """An image repository.

    `name` is written as in pod specs (`nginx`, `ghcr.io/driftlab/podinfo`) and compared normalised, so
    `nginx` and `docker.io/library/nginx` are the same repository. In a `strict` repository only the listed
    tags exist and any other tag fails to pull. Otherwise an unlisted tag exists if it matches `tag_pattern`
    (any tag when unset) and behaves like `default`."""

    name: str
    strict: bool = False
    tag_pattern: str | None = Field(None, description="regular expression for unlisted tags that exist")
    description: str | None = None
    default: Behaviour = Field(default_factory=Behaviour)
    tags: dict[str, TagEntry | None] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        try:
            reference = parse_image_reference(value)
        except InvalidImageReference as err:
            raise ValueError(f"invalid repository name {value!r}: {err}") from None
        if reference.tag is not None or reference.digest is not None:
            raise ValueError(f"repository name {value!r} must not include a tag or digest")
        return value

    @field_validator("tag_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"invalid regular expression: {err}") from None
        return value

    @field_validator("tags")
    @classmethod
    def _tag_names(cls, value: dict[str, TagEntry | None]) -> dict[str, TagEntry | None]:
        for tag in value:
            if not is_tag(tag):
                raise ValueError(f"{tag!r} is not a valid image tag")
        return value

    @property
    def key(self) -> str:
        """The normalised repository name, e.g. `docker.io/library/nginx`."""
        return parse_image_reference(self.name).name

    def has_unlisted(self, tag: str | None) -> bool:
        """Whether a tag the repository does not list exists (digest references: always, unless strict)."""
        if self.strict:
            return False
        return tag is None or self.tag_pattern is None or re.fullmatch(self.tag_pattern, tag) is not None

    def target(self, tag: str) -> str:
        """The tag whose image `tag` is (itself unless it is a `same_as` alias)."""
        entry = self.tags.get(tag)
        return entry.same_as if entry is not None and entry.same_as else tag

    def digest_of(self, tag: str) -> str:
        """The digest of the image `tag` names: pinned in the catalogue, or derived from the tag."""
        target = self.target(tag)
        entry = self.tags.get(target)
        if entry is not None and entry.digest:
            return entry.digest
        if self.default.digest and target not in self.tags:
            return self.default.digest
        return derived_digest(self.key, target)

    def behaviour(self, tag: str | None) -> Behaviour:
        """How `tag`'s image behaves: `default` with the tag's own entry merged over it (`default` alone for
        None or an unlisted tag)."""
        entry = self.tags.get(tag) if tag is not None else None
        if entry is None:
            return self.default
        base = self.default.model_dump(exclude_unset=True, by_alias=True)
        for key, value in entry.model_dump(exclude_unset=True, by_alias=True, exclude={"same_as"}).items():
            if key in _MERGED_FIELDS and isinstance(base.get(key), dict) and isinstance(value, dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return Behaviour.model_validate(base)


GENERIC_BEHAVIOUR = Behaviour(
    logs=Logs(
        start=[
            LogLineSpec(
                line="{image}: started. This image is not in the image catalogue, so it runs as a generic "
                "workload: it stays running and answers HTTP 200 on any port."
            )
        ]
    ),
    http=Http(body="Hello from {pod} ({image})\n", content_type="text/plain; charset=utf-8"),
)
