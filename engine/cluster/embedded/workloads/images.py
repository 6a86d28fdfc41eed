"""The image catalogue: which images exist and how the containers of the embedded cluster behave.

The embedded cluster runs no containers. The simulated kubelet asks this module, through pure functions:

- `Catalogue.resolve(image)`: can the image be pulled? An `ImageBehaviour`, or a `PullFailure` carrying the
  messages the real kubelet and containerd report.
- `ImageBehaviour.start_check(container, pod, lookup)`: can the container be created? A `ConfigProblem`
  (FailedMount for the pod's volumes, CreateContainerConfigError for env and security context) or None.
- `ImageBehaviour.plan(container, pod, lookup)` (or `environment` + `files` + `run_plan`): what does one run
  of the container do? A `RunPlan` says when it exits and with which code, what it logs over time, and how
  its probes answer; `ImageBehaviour.http_response` says what it answers on HTTP.

A catalogue is YAML: the built-in default_images.yaml, extended by a lab's `labs/<lab>/images.yaml`. The file
is a list of `Repository` entries; see `Repository` and `Behaviour` for every field. Images the catalogue does
not know start normally, log one line and answer HTTP 200, so arbitrary tutorials still work.
"""

from __future__ import annotations

import ast
import base64
import fnmatch
import functools
import hashlib
import heapq
import json
import math
import operator
import posixpath
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from ....errors import DriftlabError

DEFAULT_TAG = "latest"
# Capacity the downward API reports for a resource limit the container does not set; the kubelet may pass
# the node's real allocatable instead.
NODE_ALLOCATABLE: Mapping[str, str] = {"cpu": "8", "memory": "16Gi", "ephemeral-storage": "100Gi"}
# Seconds after start at which a container whose limit is below its image's `memory` is OOM-killed.
OOM_AFTER_SECONDS = 1.0
_DEFAULT_FILE = "default_images.yaml"


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------


class WorkloadError(DriftlabError):
    """Base of this module's errors."""


class CatalogueError(WorkloadError):
    """An image catalogue could not be loaded; each entry of `errors` reads `FILE:LINE:COL: message`."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class InvalidImageReference(WorkloadError):
    """An image reference the container runtime would refuse; the message is the runtime's own."""


class NotListening(WorkloadError):
    """The container has no HTTP server on the requested port, so a client gets `connection refused`."""


# ---------------------------------------------------------------------------------------------------------
# Small accessors: pod specs come from the API server as plain JSON and are read defensively.
# ---------------------------------------------------------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _is_true(value: Any) -> bool:
    return value is True


# ---------------------------------------------------------------------------------------------------------
# Image references, parsed like github.com/distribution/reference (ParseNormalizedNamed)
# ---------------------------------------------------------------------------------------------------------

_DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL_PREFIX = "library/"
_NAME_MAX = 255
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST_PATTERN = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"((?:{_DOMAIN}/)?{_PATH})(?::({_TAG_PATTERN}))?(?:@({_DIGEST_PATTERN}))?")
_NAME = re.compile(rf"(?:({_DOMAIN})/)?({_PATH})")
_TAG = re.compile(_TAG_PATTERN)
_HEX64 = re.compile(r"[a-f0-9]{64}")
_DIGEST_SIZES = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class ImageReference:
    """An image reference normalised the way the kubelet and containerd see it (`nginx` is
    `docker.io/library/nginx:latest`)."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository, e.g. `docker.io/library/nginx`."""
        return f"{self.domain}/{self.path}"

    @property
    def effective_tag(self) -> str | None:
        """The tag that is pulled: the given one, `latest` when neither tag nor digest is given."""
        if self.tag is None and self.digest is None:
            return DEFAULT_TAG
        return self.tag

    def __str__(self) -> str:
        text = self.name
        if self.effective_tag:
            text += f":{self.effective_tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image_reference(image: str) -> ImageReference:
    """Parse `[registry/]repo[:tag][@digest]` like the kubelet; raise `InvalidImageReference` with the
    message of github.com/distribution/reference."""
    if _HEX64.fullmatch(image):
        raise InvalidImageReference(f"invalid repository name ({image}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_domain(image)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidImageReference(f"invalid reference format: repository name ({remote}) must be lowercase")
    full = f"{domain}/{remainder}"
    match = _REFERENCE.fullmatch(full)
    if match is None:
        if _REFERENCE.fullmatch(full.lower()):
            raise InvalidImageReference("invalid reference format: repository name must be lowercase")
        raise InvalidImageReference("invalid reference format")
    if len(match[1]) > _NAME_MAX:
        raise InvalidImageReference(f"repository name must not be more than {_NAME_MAX} characters")
    name = _NAME.fullmatch(match[1])
    if name is None or name[1] is None:
        raise InvalidImageReference("invalid reference format")
    if match[3]:
        _check_digest(match[3])
    return ImageReference(domain=name[1], path=name[2], tag=match[2], digest=match[3])


def _split_domain(image: str) -> tuple[str, str]:
    first, slash, rest = image.partition("/")
    if not slash:
        return _DEFAULT_DOMAIN, _OFFICIAL_PREFIX + image
    if first == "localhost":
        domain, remote = first, rest
    elif first == _LEGACY_DOMAIN:
        domain, remote = _DEFAULT_DOMAIN, rest
    elif any(char in first for char in ".:") or first.lower() != first:
        domain, remote = first, rest
    else:
        domain, remote = _DEFAULT_DOMAIN, image
    if domain == _DEFAULT_DOMAIN and "/" not in remote:
        remote = _OFFICIAL_PREFIX + remote
    return domain, remote


def _check_digest(digest: str) -> None:
    algorithm, _, encoded = digest.partition(":")
    size = _DIGEST_SIZES.get(algorithm)
    if size is None:
        raise InvalidImageReference("unsupported digest algorithm")
    if len(encoded) != size:
        raise InvalidImageReference("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidImageReference("invalid checksum digest format")


def _derived_digest(repository: str, tag: str | None) -> str:
    """A stable digest for a tag the catalogue does not pin, so imageID is the same on every run."""
    return "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Quantities (resource limits)
# ---------------------------------------------------------------------------------------------------------

_QUANTITY = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?")
_SUFFIXES: Mapping[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def parse_quantity(text: str) -> Decimal:
    """A Kubernetes quantity (`500m`, `64Mi`, `1e3`) as a number of base units."""
    match = _QUANTITY.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise WorkloadError(f"invalid quantity {text!r}")
    number = Decimal(match[1])
    suffix = match[2] or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * Decimal(10) ** int(suffix[1:])
    return number * _SUFFIXES[suffix]


def _check_quantity(value: str) -> str:
    try:
        parse_quantity(value)
    except WorkloadError as err:
        raise ValueError(str(err)) from None
    return value


# ---------------------------------------------------------------------------------------------------------
# Templates: `{pod}`, `{version}`, `{env.NAME}`, `{config.KEY}`, `{a|b|'fallback'}`
# ---------------------------------------------------------------------------------------------------------

# Placeholders a catalogue may use. Values that do not apply where a template is rendered are empty.
PLACEHOLDERS: Mapping[str, str] = {
    "pod": "the pod's name",
    "hostname": "the container's hostname (the pod's name)",
    "namespace": "the pod's namespace",
    "node": "the node the pod runs on",
    "container": "the container's name",
    "pod_ip": "the pod's IP address",
    "image": "the image as written in the pod spec",
    "version": "the image version (the tag unless the catalogue says otherwise)",
    "tag": "the tag that was pulled",
    "n": "in periodic log lines: 1 for the first line, 2 for the second, ...",
    "exit_code": "in crash log lines: the exit code",
    "path": "in HTTP answers: the request path",
    "method": "in HTTP answers: the request method",
    "status": "in access-log lines: the answer's status code",
    "bytes": "in access-log lines: the answer's size",
    "client": "in access-log lines: the client address",
    "user_agent": "in access-log lines: the client's User-Agent",
    "time": "the current time, RFC 3339 with milliseconds (2024-05-01T10:00:00.000Z)",
    "time.clf": "the current time as web servers log it (01/May/2024:10:00:00 +0000)",
    "time.log": "the current time as nginx and Go's log package write it (2024/05/01 10:00:00)",
    "time.date": "the current time as `date` prints it (Wed May  1 10:00:00 UTC 2024)",
    "env.NAME": "the container's environment variable NAME",
    "config.KEY": "the ConfigMap/Secret key KEY the container reads (env valueFrom/envFrom, a mounted file)",
}
_TIME_FORMATS: Mapping[str, str] = {
    "time": "%Y-%m-%dT%H:%M:%S.%LZ",
    "time.clf": "%d/%b/%Y:%H:%M:%S +0000",
    "time.log": "%Y/%m/%d %H:%M:%S",
    "time.date": "%a %b %e %H:%M:%S UTC %Y",
}
_REFERENCE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Log lines keep their clock readings as markers until the container's start time is known.
_TIME_MARKER = re.compile("\x00([^\x00\x01]*)\x01([-+0-9.e]+)\x00")


@dataclass(frozen=True)
class _Placeholder:
    alternatives: tuple[str | Template, ...]


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholders; the first non-empty alternative wins."""

    parts: tuple[str | _Placeholder, ...]

    def render(self, values: Callable[[str], str | None]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            for alternative in part.alternatives:
                value = alternative.render(values) if isinstance(alternative, Template) else values(alternative)
                if value:
                    out.append(value)
                    break
        return "".join(out)


@functools.lru_cache(maxsize=4096)
def parse_template(text: str) -> Template:
    """Parse a template; raise ValueError naming the problem. `{{` is a literal brace, and a brace not
    followed by a letter, `_` or `'` is literal text (so JSON in log lines needs no escaping)."""
    parts: list[str | _Placeholder] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "{" and text.startswith("{{", index):
            literal.append("{")
            index += 2
            continue
        following = text[index + 1 : index + 2]
        if char == "{" and following and (following.isalpha() or following in "_'"):
            placeholder, index = _parse_placeholder(text, index + 1)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(placeholder)
            continue
        literal.append(char)
        index += 1
    if literal:
        parts.append("".join(literal))
    return Template(tuple(parts))


def _parse_placeholder(text: str, index: int) -> tuple[_Placeholder, int]:
    alternatives: list[str | Template] = []
    while True:
        while index < len(text) and text[index] == " ":
            index += 1
        if index < len(text) and text[index] == "'":
            end = text.find("'", index + 1)
            if end < 0:
                raise ValueError(f"unterminated quoted text in placeholder at {text[index:]!r}")
            alternatives.append(parse_template(text[index + 1 : end]))
            index = end + 1
        else:
            match = _REFERENCE_NAME.match(text, index)
            if match is None:
                raise ValueError(f"expected a placeholder name at {text[index:]!r}")
            _check_placeholder(match[0])
            alternatives.append(match[0])
            index = match.end()
        while index < len(text) and text[index] == " ":
            index += 1
        if index >= len(text):
            raise ValueError("unclosed placeholder: a '{' has no matching '}'")
        if text[index] == "}":
            return _Placeholder(tuple(alternatives)), index + 1
        if text[index] != "|":
            raise ValueError(f"unexpected {text[index]!r} in a placeholder")
        index += 1


def _check_placeholder(name: str) -> None:
    for prefix in ("env.", "config."):
        if name.startswith(prefix):
            if len(name) == len(prefix):
                raise ValueError(f"placeholder {{{name}}} needs a name after {prefix!r}")
            return
    if name not in PLACEHOLDERS:
        known = ", ".join(f"{{{key}}}" for key in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {{{name}}}; known placeholders: {known}")


def _check_template(value: str) -> str:
    parse_template(value)
    return value


def _time_marker(name: str, at: float) -> str:
    return f"\x00{_TIME_FORMATS[name]}\x01{at!r}\x00"


def _format_time(fmt: str, moment: datetime) -> str:
    fmt = fmt.replace("%L", f"{moment.microsecond // 1000:03d}").replace("%e", f"{moment.day:2d}")
    return moment.strftime(fmt)


def _resolve_time_markers(text: str, started_at: datetime) -> str:
    if "\x00" not in text:
        return text
    return _TIME_MARKER.sub(
        lambda m: _format_time(m[1], started_at + timedelta(seconds=float(m[2]))),
        text,
    )


# ---------------------------------------------------------------------------------------------------------
# The catalogue format (pydantic models)
# ---------------------------------------------------------------------------------------------------------

TemplateStr = Annotated[str, AfterValidator(_check_template)]
Quantity = Annotated[str, AfterValidator(_check_quantity)]


def _check_digest_field(value: str) -> str:
    try:
        _check_digest(value)
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


Digest = Annotated[str, AfterValidator(_check_digest_field)]
AbsolutePath = Annotated[str, AfterValidator(_check_absolute)]
JsonBody = Annotated[dict[str, Any], AfterValidator(_check_json_templates)]


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
            if not _TAG.fullmatch(tag):
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
        target = self.target(tag)
        entry = self.tags.get(target)
        if entry is not None and entry.digest:
            return entry.digest
        if self.default.digest and target not in self.tags:
            return self.default.digest
        return _derived_digest(self.key, target)


_REPOSITORIES = TypeAdapter(list[Repository])
_MERGED_FIELDS = frozenset({"http", "logs", "env"})


def _merge(default: Behaviour, entry: Behaviour | None) -> Behaviour:
    if entry is None:
        return default
    base = default.model_dump(exclude_unset=True, by_alias=True)
    for key, value in entry.model_dump(exclude_unset=True, by_alias=True, exclude={"same_as"}).items():
        if key in _MERGED_FIELDS and isinstance(base.get(key), dict) and isinstance(value, dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return Behaviour.model_validate(base)


# ---------------------------------------------------------------------------------------------------------
# Loading YAML with positions
# ---------------------------------------------------------------------------------------------------------


class _Resolver(yaml.resolver.BaseResolver):
    """Resolves null, booleans and decimal integers only, so versions such as 1.10 stay text."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Resolver.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


class _Composer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


Position = tuple[int, int]


@dataclass
class _Marks:
    values: dict[tuple[Any, ...], Position] = field(default_factory=dict)
    keys: dict[tuple[Any, ...], Position] = field(default_factory=dict)


class _PositionedError(Exception):
    def __init__(self, position: Position, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


def _position(mark: yaml.Mark) -> Position:
    return mark.line + 1, mark.column + 1


def _to_python(node: yaml.Node, path: tuple[Any, ...], marks: _Marks, active: set[int]) -> Any:
    marks.values[path] = _position(node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if id(node) in active:
        raise _PositionedError(_position(node.start_mark), "recursive YAML aliases are not supported")
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            return [_to_python(child, (*path, i), marks, active) for i, child in enumerate(node.value)]
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _PositionedError(_position(key_node.start_mark), "mapping keys must be plain text")
            key = key_node.value
            if key in result:
                raise _PositionedError(_position(key_node.start_mark), f'duplicate key "{key}"')
            marks.keys[(*path, key)] = _position(key_node.start_mark)
            result[key] = _to_python(value_node, (*path, key), marks, active)
        return result
    finally:
        active.discard(id(node))


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.tag.endswith(":null"):
        return None
    if node.tag.endswith(":bool"):
        return node.value.lower() == "true"
    if node.tag.endswith(":int"):
        return int(node.value)
    return node.value


def _loc_text(loc: Sequence[Any]) -> str:
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(item)):
            out += f".{item}" if out else str(item)
        else:
            out += f'["{item}"]'
    return out


def _error_position(loc: Sequence[Any], marks: _Marks, use_key: bool) -> Position:
    path: tuple[Any, ...] = ()
    for item in loc:
        if (*path, item) in marks.values:
            path = (*path, item)
    if use_key and path in marks.keys:
        return marks.keys[path]
    return marks.values.get(path, (1, 1))


def _clean_loc(loc: Sequence[Any], marks: _Marks) -> tuple[Any, ...]:
    """Drop the model names pydantic inserts for unions, keeping the path through the document."""
    path: tuple[Any, ...] = ()
    for item in loc:
        if (*path, item) in marks.values or (*path, item) in marks.keys or isinstance(item, int):
            path = (*path, item)
    return path


def _validation_messages(err: ValidationError, marks: _Marks) -> list[tuple[Position, str]]:
    found: list[tuple[Position, str]] = []
    for problem in err.errors(include_url=False):
        loc = problem["loc"]
        kind = problem["type"]
        if kind == "extra_forbidden":
            message = f'unknown field "{loc[-1]}"'
            position = _error_position(loc, marks, use_key=True)
            where = _loc_text(_clean_loc(loc[:-1], marks))
        else:
            message = problem["msg"].removeprefix("Value error, ")
            if kind == "missing":
                message = f'missing required field "{loc[-1]}"'
                loc = loc[:-1]
            position = _error_position(loc, marks, use_key=False)
            where = _loc_text(_clean_loc(loc, marks))
        found.append((position, f"{where}: {message}" if where else message))
    return found


def _semantic_messages(repositories: list[Repository], marks: _Marks) -> list[tuple[Position, str]]:
    found: list[tuple[Position, str]] = []
    seen: dict[str, int] = {}
    for index, repository in enumerate(repositories):
        if repository.key in seen:
            found.append(
                (
                    marks.values.get((index, "name"), (1, 1)),
                    f"[{index}].name: repository {repository.key} is already listed at [{seen[repository.key]}]",
                )
            )
        seen.setdefault(repository.key, index)
        for tag, entry in repository.tags.items():
            if entry is None or entry.same_as is None:
                continue
            path = (index, "tags", tag, "same_as")
            where = _loc_text(path)
            if entry.same_as not in repository.tags:
                found.append((marks.values.get(path, (1, 1)), f'{where}: unknown tag "{entry.same_as}"'))
                continue
            target = repository.tags[entry.same_as]
            if target is not None and target.same_as is not None:
                found.append((marks.values.get(path, (1, 1)), f"{where}: must name a tag that is not an alias"))
    return found


def parse_catalogue(text: str, source: str = "<string>") -> Catalogue:
    """Parse one catalogue file (without the built-in default); errors name `source` and the line."""
    try:
        node = yaml.compose(text, Loader=_Composer)
    except yaml.MarkedYAMLError as err:
        raise CatalogueError([_yaml_message(source, err)]) from None
    except yaml.YAMLError as err:
        raise CatalogueError([f"{source}: {err}"]) from None
    marks = _Marks()
    try:
        data = [] if node is None else _to_python(node, (), marks, set())
    except _PositionedError as err:
        raise CatalogueError([f"{source}:{err.position[0]}:{err.position[1]}: {err.message}"]) from None
    if not isinstance(data, list):
        line, column = marks.values.get((), (1, 1))
        raise CatalogueError([f"{source}:{line}:{column}: the image catalogue must be a list of repositories"])
    try:
        repositories = _REPOSITORIES.validate_python(data)
    except ValidationError as err:
        problems = _validation_messages(err, marks)
    else:
        problems = _semantic_messages(repositories, marks)
    if problems:
        problems.sort(key=lambda item: item[0])
        raise CatalogueError([f"{source}:{line}:{column}: {message}" for (line, column), message in problems])
    return Catalogue({repository.key: repository for repository in repositories})


def _yaml_message(source: str, err: yaml.MarkedYAMLError) -> str:
    mark = err.problem_mark or err.context_mark
    line, column = _position(mark) if mark is not None else (1, 1)
    message = err.problem or "invalid YAML"
    if err.context:
        message = f"{message} ({err.context})"
    return f"{source}:{line}:{column}: {message}"


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The built-in catalogue, extended by the lab catalogue at `path` if given: a lab repository replaces
    the built-in repository of the same (normalised) name."""
    default = _default_catalogue()
    if path is None:
        return default
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CatalogueError([f"{path}: the image catalogue is not UTF-8 text"]) from None
    except OSError as err:
        raise CatalogueError([f"{path}: cannot read the image catalogue: {err.strerror or err}"]) from None
    return default.extended(parse_catalogue(text, str(path)))


@functools.cache
def _default_catalogue() -> Catalogue:
    text = resources.files(__package__).joinpath(_DEFAULT_FILE).read_text(encoding="utf-8")
    return parse_catalogue(text, _DEFAULT_FILE)


# ---------------------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------------------


class Catalogue:
    """Repositories by normalised name; resolves image references to behaviours (cached)."""

    def __init__(self, repositories: Mapping[str, Repository]) -> None:
        self.repositories: Mapping[str, Repository] = dict(repositories)
        self._resolved: dict[str, ImageBehaviour | PullFailure] = {}
        self._behaviours: dict[tuple[str, str | None], Behaviour] = {}

    def extended(self, other: Catalogue) -> Catalogue:
        """This catalogue with `other`'s repositories added, replacing those of the same name."""
        return Catalogue({**self.repositories, **other.repositories})

    def repository(self, image: str) -> Repository | None:
        """The repository an image reference or repository name belongs to, if the catalogue lists it."""
        try:
            return self.repositories.get(parse_image_reference(image).name)
        except InvalidImageReference:
            return None

    def resolve(self, image: str) -> ImageBehaviour | PullFailure:
        """What pulling `image` (as written in the pod spec) gives."""
        result = self._resolved.get(image)
        if result is None:
            result = self._resolved[image] = self._resolve(image)
        return result

    def _resolve(self, image: str) -> ImageBehaviour | PullFailure:
        try:
            reference = parse_image_reference(image)
        except InvalidImageReference as err:
            return PullFailure.invalid_name(image, str(err))
        repository = self.repositories.get(reference.name)
        if repository is None:
            digest = reference.digest or _derived_digest(reference.name, reference.effective_tag)
            return ImageBehaviour(image, reference, GENERIC_BEHAVIOUR, digest, tag=None, known=False)
        tag = _matching_tag(repository, reference)
        if tag is None:
            if not repository.has_unlisted(None if reference.digest else reference.effective_tag):
                return PullFailure.not_found(image, reference)
            digest = reference.digest or _derived_digest(reference.name, reference.effective_tag)
            return ImageBehaviour(image, reference, self._behaviour(repository, None), digest, tag=None)
        target = repository.target(tag)
        behaviour = self._behaviour(repository, target)
        return ImageBehaviour(image, reference, behaviour, repository.digest_of(target), tag=target)

    def _behaviour(self, repository: Repository, tag: str | None) -> Behaviour:
        key = (repository.key, tag)
        behaviour = self._behaviours.get(key)
        if behaviour is None:
            entry = repository.tags.get(tag) if tag is not None else None
            behaviour = self._behaviours[key] = _merge(repository.default, entry)
        return behaviour


def _matching_tag(repository: Repository, reference: ImageReference) -> str | None:
    if reference.digest is not None:
        return next((tag for tag in repository.tags if repository.digest_of(tag) == reference.digest), None)
    tag = reference.effective_tag
    return tag if tag in repository.tags else None


# ---------------------------------------------------------------------------------------------------------
# Pull failures
# ---------------------------------------------------------------------------------------------------------


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
        return f'Pulling image "{self.requested}"'

    @property
    def backoff_message(self) -> str:
        """The container's waiting message while in ImagePullBackOff."""
        return f'Back-off pulling image "{self.requested}": {self.reason}: {self.message}'

    @property
    def backoff_event_message(self) -> str:
        """The BackOff event's message."""
        return f'Back-off pulling image "{self.requested}"'


# ---------------------------------------------------------------------------------------------------------
# Config problems: what keeps a container from being created
# ---------------------------------------------------------------------------------------------------------


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


def _config_error(message: str) -> ConfigProblem:
    return ConfigProblem("CreateContainerConfigError", message)


class Lookup(Protocol):
    """Read access to the pod's namespace, supplied by the kubelet. Both return the stored object as the
    API returns it (with `data`; Secret data is base64) or None when it does not exist."""

    def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...


class StaticLookup:
    """A `Lookup` over a fixed set of ConfigMap and Secret objects (tests, tools)."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self._objects: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for obj in objects:
            meta = _map(obj.get("metadata"))
            key = (_text(obj.get("kind")), _text(meta.get("namespace"), "default"), _text(meta.get("name")))
            self._objects[key] = obj

    def configmap(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._objects.get(("ConfigMap", namespace, name))

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._objects.get(("Secret", namespace, name))


def _decode_secret_value(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except ValueError:
        return value


class _Sources:
    """ConfigMaps and Secrets of one namespace, each read once per resolution (as the kubelet caches)."""

    def __init__(self, lookup: Lookup, namespace: str) -> None:
        self.lookup = lookup
        self.namespace = namespace
        self._configmaps: dict[str, Mapping[str, Any] | None] = {}
        self._secrets: dict[str, Mapping[str, Any] | None] = {}

    def configmap(self, name: str) -> Mapping[str, Any] | None:
        if name not in self._configmaps:
            found = self.lookup.configmap(self.namespace, name)
            self._configmaps[name] = found if isinstance(found, Mapping) else None
        return self._configmaps[name]

    def secret(self, name: str) -> Mapping[str, Any] | None:
        if name not in self._secrets:
            found = self.lookup.secret(self.namespace, name)
            self._secrets[name] = found if isinstance(found, Mapping) else None
        return self._secrets[name]

    def configmap_data(self, name: str) -> dict[str, str] | None:
        found = self.configmap(name)
        if found is None:
            return None
        return {key: value for key, value in _map(found.get("data")).items() if isinstance(value, str)}

    def configmap_files(self, name: str) -> dict[str, str] | None:
        data = self.configmap_data(name)
        if data is None:
            return None
        found = _map(self.configmap(name))
        binary = {key: _decode_secret_value(value) for key, value in _map(found.get("binaryData")).items()}
        return {**data, **binary}

    def secret_data(self, name: str) -> dict[str, str] | None:
        found = self.secret(name)
        if found is None:
            return None
        data = {key: _decode_secret_value(value) for key, value in _map(found.get("data")).items()}
        plain = {key: value for key, value in _map(found.get("stringData")).items() if isinstance(value, str)}
        return {**data, **plain}


def _namespace(pod: Mapping[str, Any]) -> str:
    return _text(_map(pod.get("metadata")).get("namespace"), "default") or "default"


def _format_pod(pod: Mapping[str, Any]) -> str:
    meta = _map(pod.get("metadata"))
    return f"{_text(meta.get('name'))}_{_namespace(pod)}({_text(meta.get('uid'))})"


# ---------------------------------------------------------------------------------------------------------
# Environment resolution (the kubelet's makeEnvironmentVariables)
# ---------------------------------------------------------------------------------------------------------


def expand_references(text: str, *mappings: Mapping[str, str]) -> str:
    """Expand `$(NAME)` like the kubelet does in env values, command and args: unknown names stay as
    written, `$$` is a literal `$`."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$" or index + 1 >= len(text):
            out.append(char)
            index += 1
            continue
        following = text[index + 1]
        if following == "$":
            out.append("$")
            index += 2
        elif following == "(":
            end = text.find(")", index + 2)
            if end < 0:
                out.append("$(")
                index += 2
                continue
            name = text[index + 2 : end]
            out.append(next((m[name] for m in mappings if name in m), f"$({name})"))
            index = end + 1
        else:
            out.append("$" + following)
            index += 2
    return "".join(out)


_LABEL_FIELD = re.compile(r"metadata\.(labels|annotations)\['(.*)'\]")


def _field_value(pod: Mapping[str, Any], path: str, pod_ip: str | None, host_ip: str | None) -> str:
    meta = _map(pod.get("metadata"))
    spec = _map(pod.get("spec"))
    status = _map(pod.get("status"))
    ip = pod_ip if pod_ip is not None else _text(status.get("podIP"))
    host = host_ip if host_ip is not None else _text(status.get("hostIP"))
    simple = {
        "metadata.name": _text(meta.get("name")),
        "metadata.namespace": _namespace(pod),
        "metadata.uid": _text(meta.get("uid")),
        "spec.nodeName": _text(spec.get("nodeName")),
        "spec.serviceAccountName": _text(spec.get("serviceAccountName")),
        "status.podIP": ip,
        "status.podIPs": ",".join(
            [_text(_map(item).get("ip")) for item in _seq(status.get("podIPs"))] if pod_ip is None else [ip]
        ),
        "status.hostIP": host,
        "status.hostIPs": host,
    }
    if path in simple:
        return simple[path]
    match = _LABEL_FIELD.fullmatch(path)
    if match:
        return _text(_map(meta.get(match[1])).get(match[2]))
    if path in ("metadata.labels", "metadata.annotations"):
        values = _map(meta.get(path.split(".")[1]))
        return "\n".join(f"{key}={json.dumps(_text(values[key]))}" for key in sorted(values))
    return ""


def _resource_value(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    ref: Mapping[str, Any],
    allocatable: Mapping[str, str],
) -> str:
    target_name = _text(ref.get("containerName"))
    if target_name:
        spec = _map(pod.get("spec"))
        candidates = [_map(c) for c in _seq(spec.get("containers")) + _seq(spec.get("initContainers"))]
        container = next((c for c in candidates if c.get("name") == target_name), container)
    kind, _, resource = _text(ref.get("resource")).partition(".")
    resources_ = _map(container.get("resources"))
    limits = _map(resources_.get("limits"))
    requests = _map(resources_.get("requests"))
    if kind == "limits":
        raw = _text(limits.get(resource)) or allocatable.get(resource, "0")
    else:
        raw = _text(requests.get(resource)) or _text(limits.get(resource)) or "0"
    try:
        value = parse_quantity(raw)
        divisor = parse_quantity(_text(ref.get("divisor"), "1") or "1")
    except WorkloadError:
        return "0"
    if divisor <= 0:
        return "0"
    return str(math.ceil(value / divisor))


def _resolve_env(
    container: Mapping[str, Any],
    pod: Mapping[str, Any],
    sources: _Sources,
    *,
    pod_ip: str | None = None,
    host_ip: str | None = None,
    service_env: Mapping[str, str] | None = None,
    allocatable: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], ConfigProblem | None]:
    """The variables the container declares (envFrom, then env in order) and the first problem, which the
    kubelet reports as CreateContainerConfigError."""
    services = dict(service_env or {})
    declared: dict[str, str] = {}
    for entry in _seq(container.get("envFrom")):
        entry = _map(entry)
        prefix = _text(entry.get("prefix"))
        if "configMapRef" in entry:
            ref = _map(entry.get("configMapRef"))
            name = _text(ref.get("name"))
            data = sources.configmap_data(name)
            if data is None:
                if _is_true(ref.get("optional")):
                    continue
                return declared, _config_error(f'configmap "{name}" not found')
        elif "secretRef" in entry:
            ref = _map(entry.get("secretRef"))
            name = _text(ref.get("name"))
            data = sources.secret_data(name)
            if data is None:
                if _is_true(ref.get("optional")):
                    continue
                return declared, _config_error(f'secret "{name}" not found')
        else:
            continue
        for key, value in data.items():
            declared[prefix + key] = value
    for var in _seq(container.get("env")):
        var = _map(var)
        name = _text(var.get("name"))
        if not name:
            continue
        value = var.get("value")
        if isinstance(value, str) and value:
            declared[name] = expand_references(value, declared, services)
            continue
        source = _map(var.get("valueFrom"))
        resolved, problem = _value_from(source, pod, container, sources, pod_ip, host_ip, allocatable)
        if problem is not None:
            return declared, problem
        if resolved is not None:
            declared[name] = resolved
    return declared, None


def _value_from(
    source: Mapping[str, Any],
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    sources: _Sources,
    pod_ip: str | None,
    host_ip: str | None,
    allocatable: Mapping[str, str] | None,
) -> tuple[str | None, ConfigProblem | None]:
    """One env var's valueFrom: (value, None), (None, None) to skip an optional one, or (None, problem)."""
    if not source:
        return "", None
    if "fieldRef" in source:
        return _field_value(pod, _text(_map(source.get("fieldRef")).get("fieldPath")), pod_ip, host_ip), None
    if "resourceFieldRef" in source:
        ref = _map(source.get("resourceFieldRef"))
        return _resource_value(pod, container, ref, allocatable or NODE_ALLOCATABLE), None
    for field_name, kind, reader in (
        ("configMapKeyRef", "ConfigMap", sources.configmap_data),
        ("secretKeyRef", "Secret", sources.secret_data),
    ):
        if field_name not in source:
            continue
        ref = _map(source.get(field_name))
        name, key, optional = _text(ref.get("name")), _text(ref.get("key")), _is_true(ref.get("optional"))
        data = reader(name)
        if data is None:
            return None, None if optional else _config_error(f'{kind.lower()} "{name}" not found')
        if key not in data:
            message = f"couldn't find key {key} in {kind} {sources.namespace}/{name}"
            return None, None if optional else _config_error(message)
        return data[key], None
    return "", None


def _env_keys(container: Mapping[str, Any], sources: _Sources) -> dict[str, str]:
    """ConfigMap/Secret keys that reach the container through envFrom and env valueFrom key refs."""
    keys: dict[str, str] = {}
    for entry in _seq(container.get("envFrom")):
        entry = _map(entry)
        if "configMapRef" in entry:
            keys.update(sources.configmap_data(_text(_map(entry.get("configMapRef")).get("name"))) or {})
        elif "secretRef" in entry:
            keys.update(sources.secret_data(_text(_map(entry.get("secretRef")).get("name"))) or {})
    for var in _seq(container.get("env")):
        source = _map(_map(var).get("valueFrom"))
        for field_name, reader in (
            ("configMapKeyRef", sources.configmap_data),
            ("secretKeyRef", sources.secret_data),
        ):
            ref = _map(source.get(field_name))
            if ref:
                data = reader(_text(ref.get("name"))) or {}
                key = _text(ref.get("key"))
                if key in data:
                    keys[key] = data[key]
    return keys


# ---------------------------------------------------------------------------------------------------------
# Volumes and the files a container sees
# ---------------------------------------------------------------------------------------------------------

_SERVICE_ACCOUNT_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImRyaWZ0bGFiIn0.eyJpc3MiOiJkcmlmdGxhYiJ9.c2ltdWxhdGVk"


def _keyed_payload(
    data: dict[str, str] | None, items: list[Any], optional: bool, missing_key: Callable[[str], str]
) -> tuple[dict[str, str], str | None]:
    if data is None:
        return {}, None
    if not items:
        return dict(data), None
    payload: dict[str, str] = {}
    for item in items:
        item = _map(item)
        key = _text(item.get("key"))
        if key not in data:
            if optional:
                continue
            return {}, missing_key(key)
        payload[_text(item.get("path"), key) or key] = data[key]
    return payload, None


def _configmap_payload(source: Mapping[str, Any], sources: _Sources) -> tuple[dict[str, str], str | None]:
    name = _text(source.get("name"))
    optional = _is_true(source.get("optional"))
    data = sources.configmap_files(name)
    if data is None and not optional:
        return {}, f'configmap "{name}" not found'
    return _keyed_payload(
        data,
        _seq(source.get("items")),
        optional,
        lambda key: f"configmap references non-existent config key: {key}",
    )


def _secret_payload(source: Mapping[str, Any], sources: _Sources, name_field: str) -> tuple[dict[str, str], str | None]:
    name = _text(source.get(name_field))
    optional = _is_true(source.get("optional"))
    data = sources.secret_data(name)
    if data is None and not optional:
        return {}, f'secret "{name}" not found'
    return _keyed_payload(
        data, _seq(source.get("items")), optional, lambda key: f"references non-existent secret key: {key}"
    )


def _downward_payload(
    source: Mapping[str, Any], pod: Mapping[str, Any], container: Mapping[str, Any]
) -> dict[str, str]:
    payload: dict[str, str] = {}
    for item in _seq(source.get("items")):
        item = _map(item)
        path = _text(item.get("path"))
        if "fieldRef" in item:
            payload[path] = _field_value(pod, _text(_map(item.get("fieldRef")).get("fieldPath")), None, None)
        elif "resourceFieldRef" in item:
            payload[path] = _resource_value(pod, container, _map(item.get("resourceFieldRef")), NODE_ALLOCATABLE)
    return payload


def _volume_payload(
    volume: Mapping[str, Any], pod: Mapping[str, Any], container: Mapping[str, Any], sources: _Sources
) -> tuple[dict[str, str], str | None]:
    """The files a volume holds (path inside the volume -> content) and the SetUp error, if any."""
    if "configMap" in volume:
        return _configmap_payload(_map(volume.get("configMap")), sources)
    if "secret" in volume:
        return _secret_payload(_map(volume.get("secret")), sources, "secretName")
    if "downwardAPI" in volume:
        return _downward_payload(_map(volume.get("downwardAPI")), pod, container), None
    if "projected" in volume:
        return _projected_payload(_map(volume.get("projected")), pod, container, sources)
    return {}, None


def _projected_payload(
    projected: Mapping[str, Any], pod: Mapping[str, Any], container: Mapping[str, Any], sources: _Sources
) -> tuple[dict[str, str], str | None]:
    payload: dict[str, str] = {}
    errors: list[str] = []
    for source in _seq(projected.get("sources")):
        source = _map(source)
        if "configMap" in source:
            part, error = _configmap_payload(_map(source.get("configMap")), sources)
        elif "secret" in source:
            part, error = _secret_payload(_map(source.get("secret")), sources, "name")
        elif "downwardAPI" in source:
            part, error = _downward_payload(_map(source.get("downwardAPI")), pod, container), None
        elif "serviceAccountToken" in source:
            path = _text(_map(source.get("serviceAccountToken")).get("path"), "token")
            part, error = {path: _SERVICE_ACCOUNT_TOKEN}, None
        else:
            part, error = {}, None
        if error:
            errors.append(error)
        payload.update(part)
    if errors:
        return {}, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return payload, None


def _pod_volumes(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {_text(_map(volume).get("name")): _map(volume) for volume in _seq(_map(pod.get("spec")).get("volumes"))}


def _all_containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = _map(pod.get("spec"))
    return [
        _map(c)
        for c in _seq(spec.get("initContainers")) + _seq(spec.get("containers")) + _seq(spec.get("ephemeralContainers"))
    ]


def volume_problem(pod: Mapping[str, Any], lookup: Lookup) -> ConfigProblem | None:
    """The first volume mounted by a container of the pod that cannot be set up (FailedMount), or None.

    Only volumes some container mounts are set up, as in the kubelet's volume manager."""
    sources = _Sources(lookup, _namespace(pod))
    used = {
        _text(_map(mount).get("name"))
        for container in _all_containers(pod)
        for mount in _seq(container.get("volumeMounts"))
    }
    for name, volume in _pod_volumes(pod).items():
        if name not in used:
            continue
        _, error = _volume_payload(volume, pod, {}, sources)
        if error is not None:
            return ConfigProblem("FailedMount", error, volume=name)
    return None


def _mounted_files(
    container: Mapping[str, Any], pod: Mapping[str, Any], sources: _Sources, env: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Files from the container's volume mounts (absolute path -> content) and the mount points."""
    volumes = _pod_volumes(pod)
    files: dict[str, str] = {}
    mount_points: list[str] = []
    for mount in _seq(container.get("volumeMounts")):
        mount = _map(mount)
        volume = volumes.get(_text(mount.get("name")))
        mount_path = _text(mount.get("mountPath"))
        if volume is None or not mount_path.startswith("/"):
            continue
        base = posixpath.normpath(mount_path)
        mount_points.append(base)
        payload, error = _volume_payload(volume, pod, container, sources)
        if error is not None:
            continue
        sub_path = _text(mount.get("subPath")) or expand_references(_text(mount.get("subPathExpr")), env)
        sub_path = sub_path.strip("/")
        for relative, content in payload.items():
            relative = posixpath.normpath(relative).lstrip("/")
            if not sub_path:
                files[posixpath.join(base, relative)] = content
            elif relative == sub_path:
                files[base] = content
            elif relative.startswith(sub_path + "/"):
                files[posixpath.join(base, relative[len(sub_path) + 1 :])] = content
    return files, mount_points


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


# ---------------------------------------------------------------------------------------------------------
# Run plans
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExitPlan:
    """How a run ends: `code` at `after` seconds; `reason` is the terminated state's reason (Completed,
    Error, OOMKilled, StartError) and `message` its message, if any."""

    code: int
    after: float
    reason: str
    message: str = ""


@dataclass(frozen=True)
class LogLine:
    """One log line, `at` seconds after the container started (`time` is the wall clock)."""

    at: float
    time: datetime
    text: str


@dataclass(frozen=True)
class ProbeTimeline:
    """A probe outcome over time: passing in [pass_after, fail_after)."""

    pass_after: float = 0.0
    fail_after: float | None = None
    status: int = 503
    message: str = ""

    def passing(self, at: float) -> bool:
        return at >= self.pass_after and (self.fail_after is None or at < self.fail_after)

    @property
    def changes(self) -> tuple[float, ...]:
        """Moments at which the outcome flips."""
        moments = [self.pass_after] if self.pass_after > 0 else []
        if self.fail_after is not None and self.fail_after > self.pass_after:
            moments.append(self.fail_after)
        return tuple(moments)


@dataclass(frozen=True)
class ProbeResult:
    """A probe's result; `message` is what the kubelet puts after `Readiness probe failed: `."""

    success: bool
    message: str = ""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _Event:
    at: float
    kind: Literal["line", "file", "forever", "exit"]
    text: str = ""
    exists: bool = False
    code: int = 0


@dataclass(frozen=True)
class _Context:
    pod: str = ""
    namespace: str = "default"
    node: str = ""
    container: str = ""
    pod_ip: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[Mapping[str, Any], ...] = ()


_MAX_LOG_LINES = 50_000


class RunPlan:
    """What one run of a container does, as a function of the seconds since it started.

    Restarting a container runs a fresh plan from zero; plans are deterministic."""

    def __init__(
        self,
        *,
        exit: ExitPlan | None,
        readiness: ProbeTimeline,
        liveness: ProbeTimeline,
        stops_on_sigterm: bool,
        events: Callable[[], Iterator[_Event]],
        image: ImageBehaviour,
        context: _Context,
    ) -> None:
        self.exit = exit
        self.readiness = readiness
        self.liveness = liveness
        self.stops_on_sigterm = stops_on_sigterm
        self._events = events
        self._image = image
        self._context = context

    @property
    def completes(self) -> bool:
        """True if the run ends by itself."""
        return self.exit is not None

    def logs(self, until: float, *, since: float = 0.0, started_at: datetime | None = None) -> list[LogLine]:
        """Lines written in [since, until] seconds after start, at most 50,000."""
        start = started_at or datetime.now(UTC)
        lines: list[LogLine] = []
        for event in self._events():
            if event.at > until or len(lines) >= _MAX_LOG_LINES:
                break
            if event.kind == "line" and event.at >= since:
                text = _resolve_time_markers(event.text, start)
                lines.append(LogLine(event.at, start + timedelta(seconds=event.at), text))
        return lines

    def ready(self, at: float) -> bool:
        """The readiness outcome at `at` seconds (for a readinessProbe the pod defines)."""
        return self.readiness.passing(at) and (self.exit is None or at < self.exit.after)

    def next_change(self, after: float) -> float | None:
        """The first moment after `after` at which the exit or a probe outcome happens, if any."""
        moments = [*self.readiness.changes, *self.liveness.changes]
        if self.exit is not None:
            moments.append(self.exit.after)
        later = [moment for moment in moments if moment > after]
        return min(later) if later else None

    def probe(
        self,
        kind: Literal["readiness", "liveness", "startup"],
        probe: Mapping[str, Any],
        at: float,
        *,
        pod_ip: str = "",
        ports: Sequence[Mapping[str, Any]] | None = None,
    ) -> ProbeResult:
        """The result of one probe (the pod's `readinessProbe`/`livenessProbe`/`startupProbe` object) at `at`
        seconds. Startup probes follow the readiness outcome. Named probe ports are looked up in `ports`
        (default: the container's `ports`)."""
        timeline = self.liveness if kind == "liveness" else self.readiness
        passing = timeline.passing(at)
        probe = _map(probe)
        host = pod_ip or self._context.pod_ip
        if "exec" in probe:
            return self._exec_probe([_text(a) for a in _seq(_map(probe.get("exec")).get("command"))], at, timeline)
        for handler in ("httpGet", "tcpSocket", "grpc"):
            if handler not in probe:
                continue
            spec = _map(probe.get(handler))
            port = _probe_port(spec.get("port"), self._context.ports if ports is None else ports)
            if port is None:
                return ProbeResult(False, f"couldn't find port: {spec.get('port')}")
            target_host = _text(spec.get("host")) or host
            if handler == "httpGet":
                return self._http_probe(spec, target_host, port, passing, timeline)
            if not self._image.listens_on(port):
                if handler == "tcpSocket":
                    return ProbeResult(False, f"dial tcp {target_host}:{port}: connect: connection refused")
                return ProbeResult(False, f'timeout: failed to connect service "{target_host}:{port}" within 1s')
            if passing:
                return ProbeResult(True)
            if handler == "tcpSocket":
                return ProbeResult(False, timeline.message or f"dial tcp {target_host}:{port}: i/o timeout")
            return ProbeResult(False, timeline.message or 'service unhealthy (responded with "NOT_SERVING")')
        return ProbeResult(passing, "" if passing else timeline.message)

    def _http_probe(
        self, spec: Mapping[str, Any], host: str, port: int, passing: bool, timeline: ProbeTimeline
    ) -> ProbeResult:
        path = _text(spec.get("path"), "/") or "/"
        scheme = _text(spec.get("scheme"), "HTTP").lower()
        if not self._image.listens_on(port):
            url = f"{scheme}://{host}:{port}{path}"
            return ProbeResult(False, f'Get "{url}": dial tcp {host}:{port}: connect: connection refused')
        status = self._image.http_answer(HttpRequest(self._context, path=path)).status if passing else timeline.status
        if 200 <= status < 400:
            return ProbeResult(True)
        return ProbeResult(False, f"HTTP probe failed with statuscode: {status}")

    def _exec_probe(self, argv: list[str], at: float, timeline: ProbeTimeline) -> ProbeResult:
        if not argv:
            return ProbeResult(False, "exec probe has no command")
        passing = timeline.passing(at)

        def fallback(_: list[str]) -> tuple[int, str]:
            return (0, "") if passing else (1, timeline.message)

        shell = _Shell(self._context.env, self.files_at(at), self._context.pod, fallback=fallback)
        code, output = shell.run_to_end(argv)
        return ProbeResult(code == 0, output.rstrip("\n"))

    def files_at(self, at: float) -> dict[str, str]:
        """The container's files at `at` seconds: the image's, the mounted ones, and those the running
        command created or removed (for exec probes like `cat /tmp/healthy`)."""
        files = dict(self._context.files)
        for event in self._events():
            if event.at > at:
                break
            if event.kind == "file":
                path, _, content = event.text.partition("\x00")
                if event.exists:
                    files[path] = content
                else:
                    files.pop(path, None)
        return files


def _probe_port(port: Any, ports: Sequence[Mapping[str, Any]]) -> int | None:
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for entry in ports:
            entry = _map(entry)
            if entry.get("name") == port and isinstance(entry.get("containerPort"), int):
                return int(entry["containerPort"])
    return None


@dataclass(frozen=True)
class HttpRequest:
    """A request to a container's HTTP server; build it with `ImageBehaviour.http_request`."""

    context: _Context
    path: str = "/"
    method: str = "GET"
    now: datetime | None = None


# ---------------------------------------------------------------------------------------------------------
# Image behaviour
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageBehaviour:
    """A pullable image and how its containers behave. `known` is False for images the catalogue does not
    list (they get the generic behaviour)."""

    requested: str
    reference: ImageReference
    behaviour: Behaviour
    digest: str
    tag: str | None = None
    known: bool = True

    # -- identity ------------------------------------------------------------------------------------------

    @property
    def version(self) -> str:
        if self.behaviour.version:
            return self.behaviour.version
        if self.tag:
            return self.tag
        if self.reference.tag:
            return self.reference.tag
        return self.digest.partition(":")[2][:12]

    @property
    def image(self) -> str:
        """The container status's `image` (what containerd reports, e.g. `docker.io/library/nginx:1.27`)."""
        return str(self.reference)

    @property
    def image_id(self) -> str:
        """The container status's `imageID`, e.g. `docker.io/library/nginx@sha256:...`."""
        return f"{self.reference.name}@{self.digest}"

    @property
    def size(self) -> int:
        if self.behaviour.size is not None:
            return self.behaviour.size
        return 5_000_000 + int(self.digest.partition(":")[2][:8] or "0", 16) % 75_000_000

    @property
    def pulling_message(self) -> str:
        return f'Pulling image "{self.requested}"'

    def pulled_message(self, seconds: float, waited: float | None = None) -> str:
        """The Pulled event after a pull that took `seconds` (`waited`: including the wait in the queue)."""
        total = seconds if waited is None else waited
        return (
            f'Successfully pulled image "{self.requested}" in {go_duration(seconds)} '
            f"({go_duration(total)} including waiting). Image size: {self.size} bytes."
        )

    @property
    def present_message(self) -> str:
        """The Pulled event when the image is already on the node (imagePullPolicy IfNotPresent)."""
        return f'Container image "{self.requested}" already present on machine'

    # -- start -------------------------------------------------------------------------------------------

    def start_check(self, container: Mapping[str, Any], pod: Mapping[str, Any], lookup: Lookup) -> ConfigProblem | None:
        """Why the container cannot be created, or None. Checks, in the kubelet's order: the pod's volumes
        (FailedMount), the container's env (CreateContainerConfigError), runAsNonRoot against the image's
        user."""
        container, pod = _map(container), _map(pod)
        problem = volume_problem(pod, lookup)
        if problem is not None:
            return problem
        _, problem = _resolve_env(container, pod, _Sources(lookup, _namespace(pod)))
        if problem is not None:
            return problem
        return self._non_root_problem(container, pod)

    def _non_root_problem(self, container: Mapping[str, Any], pod: Mapping[str, Any]) -> ConfigProblem | None:
        pod_context = _map(_map(pod.get("spec")).get("securityContext"))
        own = _map(container.get("securityContext"))
        non_root = own.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        if not _is_true(non_root):
            return None
        where = f'(pod: "{_format_pod(pod)}", container: {_text(container.get("name"))})'
        run_as = own.get("runAsUser", pod_context.get("runAsUser"))
        if isinstance(run_as, int) and not isinstance(run_as, bool):
            return _config_error(f"container's runAsUser breaks non-root policy {where}") if run_as == 0 else None
        user = self.behaviour.user.split(":", 1)[0] or "0"
        if not user.isdigit():
            return _config_error(
                f"container has runAsNonRoot and image has non-numeric user ({user}), "
                "cannot verify user is non-root " + where
            )
        if int(user) == 0:
            return _config_error(f"container has runAsNonRoot and image will run as root {where}")
        return None

    # -- what the container sees ---------------------------------------------------------------------------

    def environment(
        self,
        container: Mapping[str, Any],
        pod: Mapping[str, Any],
        lookup: Lookup,
        *,
        pod_ip: str | None = None,
        host_ip: str | None = None,
        service_env: Mapping[str, str] | None = None,
        allocatable: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The process environment: the image's ENV, HOSTNAME, the service variables, then the container's
        own variables (envFrom, env with `$(VAR)` expansion, fieldRef, resourceFieldRef, key refs).
        References that cannot be resolved are left out; `start_check` reports them."""
        container, pod = _map(container), _map(pod)
        declared, _ = _resolve_env(
            container,
            pod,
            _Sources(lookup, _namespace(pod)),
            pod_ip=pod_ip,
            host_ip=host_ip,
            service_env=service_env,
            allocatable=allocatable,
        )
        image_env = {name: self._render(text, _Context()) for name, text in self.behaviour.env.items()}
        hostname = _text(_map(pod.get("metadata")).get("name"))
        return {**image_env, "HOSTNAME": hostname, **dict(service_env or {}), **declared}

    def files(
        self,
        container: Mapping[str, Any],
        pod: Mapping[str, Any],
        lookup: Lookup,
        *,
        env: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The container's files (absolute path -> content): the image's own files, hidden where a volume is
        mounted over them, plus the files of mounted ConfigMap/Secret/projected/downwardAPI volumes."""
        container, pod = _map(container), _map(pod)
        sources = _Sources(lookup, _namespace(pod))
        mounted, mount_points = _mounted_files(container, pod, sources, env or {})
        own = self._own_files(_text(_map(pod.get("metadata")).get("name")))
        visible = {path: text for path, text in own.items() if not any(_under(path, p) for p in mount_points)}
        return {**visible, **mounted}

    def _own_files(self, pod_name: str) -> dict[str, str]:
        context = _Context(pod=pod_name)
        return {path: self._render(text, context) for path, text in self.behaviour.files.items()}

    def config_values(self, container: Mapping[str, Any], pod: Mapping[str, Any], lookup: Lookup) -> dict[str, str]:
        """ConfigMap/Secret keys the container reads (key -> value), for `{config.KEY}` and `requires.config`:
        files of mounted volumes by file name, then envFrom keys, then env valueFrom key refs."""
        container, pod = _map(container), _map(pod)
        sources = _Sources(lookup, _namespace(pod))
        mounted, _ = _mounted_files(container, pod, sources, {})
        values = {posixpath.basename(path): content for path, content in mounted.items()}
        values.update(_env_keys(container, sources))
        return values

    def plan(
        self,
        container: Mapping[str, Any],
        pod: Mapping[str, Any],
        lookup: Lookup,
        *,
        pod_ip: str | None = None,
        host_ip: str | None = None,
        service_env: Mapping[str, str] | None = None,
        allocatable: Mapping[str, str] | None = None,
    ) -> RunPlan:
        """`environment`, `files`, `config_values` and `run_plan` in one call."""
        env = self.environment(
            container,
            pod,
            lookup,
            pod_ip=pod_ip,
            host_ip=host_ip,
            service_env=service_env,
            allocatable=allocatable,
        )
        files = self.files(container, pod, lookup, env=env)
        config = self.config_values(container, pod, lookup)
        ip = pod_ip if pod_ip is not None else _text(_map(_map(pod).get("status")).get("podIP"))
        return self.run_plan(env, container=container, pod=pod, files=files, config=config, pod_ip=ip)

    # -- running ---------------------------------------------------------------------------------------------

    def run_plan(
        self,
        env: Mapping[str, str],
        *,
        container: Mapping[str, Any] | None = None,
        pod: Mapping[str, Any] | None = None,
        files: Mapping[str, str] | None = None,
        config: Mapping[str, str] | None = None,
        pod_ip: str = "",
    ) -> RunPlan:
        """What a run does given its environment, files and config values (see `plan` for computing them).

        A `runs: command` image, or any image whose container command starts with a shell or a common
        utility (`sh -c ...`, `sleep 3600`), runs that command through the shell simulation."""
        container, pod = _map(container), _map(pod)
        meta = _map(pod.get("metadata"))
        files = dict(files) if files is not None else self._own_files(_text(meta.get("name")))
        context = _Context(
            pod=_text(meta.get("name")),
            namespace=_namespace(pod),
            node=_text(_map(pod.get("spec")).get("nodeName")),
            container=_text(container.get("name")),
            pod_ip=pod_ip,
            env=dict(env),
            config=dict(config) if config is not None else {posixpath.basename(p): c for p, c in files.items()},
            files=files,
            ports=tuple(_map(port) for port in _seq(container.get("ports"))),
        )
        argv = self._argv(container, env)
        if argv is not None:
            return self._command_plan(argv, context)
        return self._app_plan(container, context)

    def _argv(self, container: Mapping[str, Any], env: Mapping[str, str]) -> list[str] | None:
        command = [_text(item) for item in _seq(container.get("command"))]
        args = [_text(item) for item in _seq(container.get("args"))]
        if self.behaviour.runs == "command":
            argv = command + args if command else (args or list(self.behaviour.cmd))
        elif command and posixpath.basename(command[0]) in _SHELL_PROGRAMS:
            argv = command + args
        else:
            return None
        return [expand_references(item, env) for item in argv]

    def _app_plan(self, container: Mapping[str, Any], context: _Context) -> RunPlan:
        behaviour = self.behaviour
        candidates: list[tuple[float, int, ExitPlan, list[tuple[float, str]]]] = []
        missing = self._unmet_requirements(context)
        if missing:
            at = behaviour.requires.after
            lines = [(at, text) for text in missing]
            candidates.append((at, 0, ExitPlan(behaviour.requires.exit_code, at, "Error"), lines))
        crash = behaviour.crash
        if crash is not None and (crash.when is None or _holds(crash.when, context)):
            reason = "Completed" if crash.exit_code == 0 else "Error"
            extra = {"exit_code": str(crash.exit_code)}
            lines = [
                (crash.after, self._render(text, context, at=crash.after, extra=extra)) for text in behaviour.logs.crash
            ]
            candidates.append((crash.after, 1, ExitPlan(crash.exit_code, crash.after, reason), lines))
        if self._over_memory(container):
            candidates.append((OOM_AFTER_SECONDS, 2, ExitPlan(137, OOM_AFTER_SECONDS, "OOMKilled"), []))
        exit_plan, final_lines = None, []
        if candidates:
            _, _, exit_plan, final_lines = min(candidates, key=lambda item: (item[0], item[1]))
        end = exit_plan.after if exit_plan is not None else math.inf
        static = [
            (entry.after, self._render(entry.line, context, at=entry.after))
            for entry in behaviour.logs.start
            if entry.after <= end
        ]
        static.sort(key=lambda item: item[0])
        static.extend(final_lines)
        periodic = behaviour.logs.periodic

        def events() -> Iterator[_Event]:
            stream: Iterator[tuple[float, str]] = iter(static)
            if periodic is not None:
                stream = heapq.merge(static, self._periodic(periodic, context, end), key=lambda item: item[0])
            for at, text in stream:
                yield _Event(at, "line", text)
            if exit_plan is not None:
                yield _Event(exit_plan.after, "exit", code=exit_plan.code)

        return RunPlan(
            exit=exit_plan,
            readiness=self._timeline(behaviour.readiness, context),
            liveness=self._timeline(behaviour.liveness, context),
            stops_on_sigterm=behaviour.sigterm == "exit",
            events=events,
            image=self,
            context=context,
        )

    def _periodic(self, periodic: PeriodicLogs, context: _Context, end: float) -> Iterator[tuple[float, str]]:
        first = periodic.every if periodic.after is None else periodic.after
        count = 0
        while True:
            at = first + count * periodic.every
            if at >= end:
                return
            text = periodic.lines[count % len(periodic.lines)]
            count += 1
            yield at, self._render(text, context, at=at, extra={"n": str(count)})

    def _command_plan(self, argv: list[str], context: _Context) -> RunPlan:
        behaviour = self.behaviour
        program = argv[0] if argv else ""
        if posixpath.basename(program) not in _SHELL_PROGRAMS and program not in context.files:
            message = (
                "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
                "runc create failed: unable to start container process: error during container init: exec: "
                f'"{program}": executable file not found in $PATH: unknown'
            )
            exit_plan = ExitPlan(128, 0.0, "StartError", message)

            def failed() -> Iterator[_Event]:
                yield _Event(0.0, "exit", code=128)

            return RunPlan(
                exit=exit_plan,
                readiness=self._timeline(behaviour.readiness, context),
                liveness=self._timeline(behaviour.liveness, context),
                stops_on_sigterm=True,
                events=failed,
                image=self,
                context=context,
            )

        def events() -> Iterator[_Event]:
            return _Shell(context.env, context.files, context.pod).run(argv)

        exit_plan = None
        probe = _Shell(context.env, context.files, context.pod, detect_only=True)
        for event in probe.run(argv):
            if event.kind == "exit":
                reason = "Completed" if event.code == 0 else "Error"
                exit_plan = ExitPlan(event.code, event.at, reason)
        return RunPlan(
            exit=exit_plan,
            readiness=self._timeline(behaviour.readiness, context),
            liveness=self._timeline(behaviour.liveness, context),
            stops_on_sigterm=_traps_sigterm(argv),
            events=events,
            image=self,
            context=context,
        )

    def _timeline(self, outcome: ProbeOutcomeSpec, context: _Context) -> ProbeTimeline:
        message = self._render(outcome.message, context) if outcome.message else ""
        return ProbeTimeline(outcome.pass_after, outcome.fail_after, outcome.status, message)

    def _over_memory(self, container: Mapping[str, Any]) -> bool:
        if self.behaviour.memory is None:
            return False
        limit = _text(_map(_map(container.get("resources")).get("limits")).get("memory"))
        if not limit:
            return False
        try:
            return parse_quantity(limit) < parse_quantity(self.behaviour.memory)
        except WorkloadError:
            return False

    def _unmet_requirements(self, context: _Context) -> list[str]:
        requires = self.behaviour.requires
        lines: list[str] = []
        for env in requires.env:
            actual = context.env.get(env.name, "")
            if actual and (env.value is None or actual == env.value):
                continue
            if env.message:
                lines.append(self._render(env.message, context, at=requires.after))
            elif not actual:
                lines.append(f"error: required environment variable {env.name} is not set")
            else:
                lines.append(f'error: environment variable {env.name} must be "{env.value}", got "{actual}"')
        for item in requires.config:
            if context.config.get(item.key):
                continue
            default = f'error: configuration key "{item.key}" not found in the environment or mounted files'
            lines.append(self._render(item.message, context, at=requires.after) if item.message else default)
        for item in requires.files:
            if any(_under(path, item.path) for path in context.files):
                continue
            default = f"error: open {item.path}: no such file or directory"
            lines.append(self._render(item.message, context, at=requires.after) if item.message else default)
        return lines

    # -- HTTP --------------------------------------------------------------------------------------------

    def listens_on(self, port: int | None) -> bool:
        """True if the app accepts connections on `port` (None: on its own port)."""
        http = self.behaviour.http
        return http is not None and (port is None or http.port is None or http.port == port)

    @property
    def http_port(self) -> int | None:
        http = self.behaviour.http
        return http.port if http is not None else None

    def http_response(
        self,
        pod_name: str,
        env: Mapping[str, str],
        config: Mapping[str, str],
        *,
        path: str = "/",
        namespace: str = "default",
        files: Mapping[str, str] | None = None,
        port: int | None = None,
        pod_ip: str = "",
        method: str = "GET",
    ) -> tuple[int, str]:
        """(status, body) the container answers for a request to `path`; raises NotListening when it has no
        HTTP server on `port` (the client sees connection refused)."""
        request = self.http_request(
            pod_name, env, config, path=path, namespace=namespace, files=files, pod_ip=pod_ip, method=method
        )
        answer = self.http_answer(request, port=port)
        return answer.status, answer.body

    def http_answer(self, request: HttpRequest, *, port: int | None = None) -> HttpAnswer:
        """The full answer (status, body, headers) for a request built by `http_request`."""
        http = self.behaviour.http
        if http is None or not self.listens_on(port):
            where = f"port {port}" if port is not None else "any port"
            raise NotListening(f"{self.requested} does not listen on {where}: connection refused")
        path = request.path.split("?", 1)[0] or "/"
        route: HttpRoute | None = http.paths.get(path)
        if route is None and http.docroot is not None:
            served = self._docroot_file(http.docroot, path, request.context.files)
            if served is not None:
                name, content = served
                headers = {"Content-Type": _content_type(name), **self._headers(http, request)}
                return HttpAnswer(200, content, headers)
            if path not in ("/", "/index.html"):
                route = http.not_found
        route = route or http
        return self._route_answer(route, http, request)

    def http_request(
        self,
        pod_name: str,
        env: Mapping[str, str],
        config: Mapping[str, str],
        *,
        path: str = "/",
        namespace: str = "default",
        files: Mapping[str, str] | None = None,
        pod_ip: str = "",
        method: str = "GET",
        now: datetime | None = None,
    ) -> HttpRequest:
        """A request to this image's container; `files` defaults to the image's own files and `now` (for
        `{time}` in answers and access logs) to the current time."""
        return HttpRequest(
            _Context(
                pod=pod_name,
                namespace=namespace,
                pod_ip=pod_ip,
                env=env,
                config=config,
                files=files if files is not None else self._own_files(pod_name),
            ),
            path=path,
            method=method,
            now=now,
        )

    def access_log_line(
        self,
        request: HttpRequest,
        answer: HttpAnswer,
        *,
        client: str = "10.244.0.1",
        user_agent: str = "curl/8.5.0",
    ) -> str | None:
        """The log line the app writes for a request, if its catalogue entry has an `access_log`."""
        http = self.behaviour.http
        if http is None or http.access_log is None:
            return None
        extra = {
            "status": str(answer.status),
            "bytes": str(len(answer.body.encode())),
            "client": client,
            "user_agent": user_agent,
            "path": request.path,
            "method": request.method,
        }
        return self._render(http.access_log, request.context, now=request.now or datetime.now(UTC), extra=extra)

    def _docroot_file(self, docroot: str, path: str, files: Mapping[str, str]) -> tuple[str, str] | None:
        relative = posixpath.normpath("/" + path.lstrip("/")).lstrip("/")
        candidate = posixpath.join(docroot, relative) if relative and relative != "." else docroot
        for name in (candidate, posixpath.join(candidate, "index.html")):
            if name in files:
                return name, files[name]
        return None

    def _route_answer(self, route: HttpRoute, http: Http, request: HttpRequest) -> HttpAnswer:
        extra = {"path": request.path, "method": request.method}
        now = request.now or datetime.now(UTC)
        if route.json_body is not None:
            rendered = _render_json(
                route.json_body, lambda text: self._render(text, request.context, now=now, extra=extra)
            )
            body = json.dumps(rendered, indent=2) + "\n"
            content_type = route.content_type or "application/json; charset=utf-8"
        else:
            body = self._render(route.body, request.context, now=now, extra=extra) if route.body else ""
            content_type = route.content_type or http.content_type or "text/plain; charset=utf-8"
        return HttpAnswer(route.status, body, {"Content-Type": content_type, **self._headers(http, request, route)})

    def _headers(self, http: Http, request: HttpRequest, route: HttpRoute | None = None) -> dict[str, str]:
        headers = {**http.headers, **(route.headers if route is not None else {})}
        return {name: self._render(text, request.context) for name, text in headers.items()}

    # -- templates ----------------------------------------------------------------------------------------

    def _render(
        self,
        text: str,
        context: _Context,
        *,
        at: float | None = None,
        now: datetime | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> str:
        fixed = {
            "pod": context.pod,
            "hostname": context.pod,
            "namespace": context.namespace,
            "node": context.node,
            "container": context.container,
            "pod_ip": context.pod_ip,
            "image": self.requested,
            "version": self.version,
            "tag": self.tag or self.reference.tag or "",
            **(extra or {}),
        }

        def value(name: str) -> str | None:
            if name.startswith("env."):
                return context.env.get(name[4:])
            if name.startswith("config."):
                return context.config.get(name[7:])
            if name in _TIME_FORMATS:
                if now is not None:
                    return _format_time(_TIME_FORMATS[name], now)
                return _time_marker(name, at or 0.0)
            return fixed.get(name)

        return parse_template(text).render(value)


def _render_json(value: Any, render: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return render(value)
    if isinstance(value, Mapping):
        return {key: _render_json(item, render) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_json(item, render) for item in value]
    return value


_CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
    ".txt": "text/plain",
    ".css": "text/css",
    ".js": "application/javascript",
    ".svg": "image/svg+xml",
}


def _content_type(name: str) -> str:
    return _CONTENT_TYPES.get(posixpath.splitext(name)[1].lower(), "application/octet-stream")


def _holds(condition: Condition, context: _Context) -> bool:
    env, config = context.env, context.config
    return (
        all(not env.get(name) for name in condition.env_missing)
        and all(env.get(name) for name in condition.env_set)
        and all(env.get(name) == value for name, value in condition.env_equals.items())
        and all(not config.get(key) for key in condition.config_missing)
        and all(config.get(key) for key in condition.config_set)
        and all(not any(_under(path, missing) for path in context.files) for missing in condition.files_missing)
    )


def go_duration(seconds: float) -> str:
    """A duration as Go prints time.Duration truncated to milliseconds (`512ms`, `1.5s`, `2m3.25s`)."""
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    out = f"{hours}h" if hours else ""
    if hours or minutes:
        out += f"{minutes}m"
    return out + f"{secs}s"


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


# ---------------------------------------------------------------------------------------------------------
# Shell simulation: what `sh -c '...'`, `sleep 3600` or `echo hello` do in busybox-like images
# ---------------------------------------------------------------------------------------------------------

_SHELLS = frozenset({"sh", "ash", "bash", "dash"})
_NETWORK_PROGRAMS = frozenset({"wget", "curl", "nc", "nslookup", "ping", "dig", "telnet"})
_RESERVED = frozenset({"if", "then", "elif", "else", "fi", "while", "until", "do", "done", "for", "in", "{", "}", "!"})
_WORD_START_OPERATORS = ("2>&1", "1>&2", "2>", "1>")
_OPERATORS = (">&2", "&&", "||", "&>", ">>", ">&", ";", "&", "|", "(", ")", "<", ">", "\n")
_REDIRECTIONS = frozenset({"2>&1", "1>&2", ">&2", ">&", "2>", "1>", "&>", ">>", ">", "<"})
_BASE_DIRS = frozenset(
    {
        "/",
        "/bin",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/proc",
        "/root",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/bin",
        "/var",
    }
)
_MAX_STEPS = 200_000
_DETECT_STEPS = 5_000
_PROBE_STEPS = 2_000
_LOOP_TICK = 0.001
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Word = list[tuple[str, str, bool]]
Node = tuple[Any, ...]


class _ShellSyntax(Exception):
    pass


class _ShellRuntime(Exception):
    pass


class _ShellExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _ShellForever(Exception):
    """The process will not end by itself (sleep infinity, tail -f, an endless loop)."""


class _ShellBudget(Exception):
    """The simulation ran out of steps; the process is treated as running on."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _lex(source: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    parts: Word = []
    in_word = False
    index = 0

    def end_word() -> None:
        nonlocal parts, in_word
        if in_word:
            tokens.append(("word", parts))
        parts, in_word = [], False

    while index < len(source):
        char = source[index]
        if char in " \t\r":
            end_word()
            index += 1
            continue
        if char == "#" and not in_word:
            while index < len(source) and source[index] != "\n":
                index += 1
            continue
        if char == "\\":
            if source.startswith("\\\n", index):
                index += 2
                continue
            parts.append(("lit", source[index + 1 : index + 2], True))
            in_word = True
            index += 2
            continue
        operator_ = None
        if not in_word:
            operator_ = next((op for op in _WORD_START_OPERATORS if source.startswith(op, index)), None)
        operator_ = operator_ or next((op for op in _OPERATORS if source.startswith(op, index)), None)
        if operator_ is not None:
            end_word()
            tokens.append(("op", operator_))
            index += len(operator_)
            continue
        in_word = True
        if char == "'":
            end = source.find("'", index + 1)
            if end < 0:
                raise _ShellSyntax("unterminated quoted string")
            parts.append(("lit", source[index + 1 : end], True))
            index = end + 1
        elif char == '"':
            index = _lex_double_quoted(source, index + 1, parts)
        elif char == "$":
            index = _lex_dollar(source, index, parts, quoted=False)
        elif char == "`":
            end = source.find("`", index + 1)
            if end < 0:
                raise _ShellSyntax("unterminated quoted string")
            parts.append(("cmd", source[index + 1 : end], False))
            index = end + 1
        else:
            parts.append(("lit", char, False))
            index += 1
    end_word()
    return tokens


def _lex_double_quoted(source: str, index: int, parts: Word) -> int:
    buffer: list[str] = []
    parts.append(("lit", "", True))
    while index < len(source) and source[index] != '"':
        char = source[index]
        if char == "\\" and source[index + 1 : index + 2] in ('"', "\\", "$", "`", "\n"):
            if source[index + 1] != "\n":
                buffer.append(source[index + 1])
            index += 2
        elif char in "$`":
            if buffer:
                parts.append(("lit", "".join(buffer), True))
                buffer = []
            if char == "$":
                index = _lex_dollar(source, index, parts, quoted=True)
            else:
                end = source.find("`", index + 1)
                if end < 0:
                    raise _ShellSyntax("unterminated quoted string")
                parts.append(("cmd", source[index + 1 : end], True))
                index = end + 1
        else:
            buffer.append(char)
            index += 1
    if index >= len(source):
        raise _ShellSyntax("unterminated quoted string")
    if buffer:
        parts.append(("lit", "".join(buffer), True))
    return index + 1


def _matching_paren(source: str, index: int) -> int:
    """Index of the `)` closing the `(` at `index`."""
    depth = 0
    quote = ""
    while index < len(source):
        char = source[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise _ShellSyntax('unexpected end of file (expecting ")")')


def _lex_dollar(source: str, index: int, parts: Word, *, quoted: bool) -> int:
    following = source[index + 1 : index + 2]
    if source.startswith("$((", index):
        end = _matching_paren(source, index + 1)
        parts.append(("arith", source[index + 3 : end - 1], quoted))
        return end + 1
    if following == "(":
        end = _matching_paren(source, index + 1)
        parts.append(("cmd", source[index + 2 : end], quoted))
        return end + 1
    if following == "{":
        end = source.find("}", index + 2)
        if end < 0:
            raise _ShellSyntax("bad substitution")
        parts.append(("var", source[index + 2 : end], quoted))
        return end + 1
    match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*!-]").match(source, index + 1)
    if match is None:
        parts.append(("lit", "$", quoted))
        return index + 1
    parts.append(("var", match[0], quoted))
    return match.end()


def _literal(parts: Word) -> str | None:
    if all(kind == "lit" and not quoted for kind, _, quoted in parts):
        return "".join(value for _, value, _ in parts)
    return None


def _assignment(parts: Word) -> tuple[str, Word] | None:
    if not parts or parts[0][0] != "lit" or parts[0][2]:
        return None
    head = "".join(value for kind, value, quoted in _leading_literal(parts))
    name, equals, _ = head.partition("=")
    if not equals or not _IDENTIFIER.fullmatch(name):
        return None
    consumed = len(name) + 1
    rest: Word = []
    for kind, value, quoted in parts:
        if consumed > 0 and kind == "lit" and not quoted:
            take = min(consumed, len(value))
            value, consumed = value[take:], consumed - take
            if not value:
                continue
        rest.append((kind, value, quoted))
    return name, rest or [("lit", "", True)]


def _leading_literal(parts: Word) -> Word:
    out: Word = []
    for part in parts:
        if part[0] != "lit" or part[2]:
            break
        out.append(part)
    return out


def _unexpected(token: tuple[str, Any] | None) -> _ShellSyntax:
    if token is None:
        return _ShellSyntax("unexpected end of file")
    if token == ("op", "\n"):
        return _ShellSyntax("unexpected newline")
    text = token[1] if token[0] == "op" else "".join(value for _, value, _ in token[1])
    return _ShellSyntax(f'unexpected "{text}"')


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _is_word(self, *names: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "word" and _literal(token[1]) in names

    def _is_op(self, *ops: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "op" and token[1] in ops

    def _skip(self, *ops: str) -> None:
        while self._is_op(*ops):
            self.pos += 1

    def _expect_word(self, name: str) -> None:
        if not self._is_word(name):
            if self._peek() is None:
                raise _ShellSyntax(f'unexpected end of file (expecting "{name}")')
            raise _unexpected(self._peek())
        self.pos += 1

    def program(self) -> Node:
        node = self._list(())
        if self._peek() is not None:
            raise _unexpected(self._peek())
        return node

    def _list(self, stops: tuple[str, ...]) -> Node:
        items: list[Node] = []
        while True:
            self._skip("\n", ";")
            if self._peek() is None or self._is_word(*stops) or self._is_op(")"):
                return ("seq", items)
            items.append(self._and_or())
            if not self._is_op(";", "\n", "&"):
                return ("seq", items)
            self.pos += 1

    def _and_or(self) -> Node:
        first = self._pipeline()
        rest: list[tuple[str, Node]] = []
        while self._is_op("&&", "||"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            self._skip("\n")
            rest.append((op, self._pipeline()))
        return ("andor", first, rest) if rest else first

    def _pipeline(self) -> Node:
        negate = self._is_word("!")
        if negate:
            self.pos += 1
        commands = [self._command()]
        while self._is_op("|"):
            self.pos += 1
            self._skip("\n")
            commands.append(self._command())
        if len(commands) == 1 and not negate:
            return commands[0]
        return ("pipe", commands, negate)

    def _command(self) -> Node:
        token = self._peek()
        if token is None:
            raise _unexpected(None)
        if token == ("op", "("):
            self.pos += 1
            body = self._list(())
            if not self._is_op(")"):
                raise _unexpected(self._peek())
            self.pos += 1
            return ("subshell", body, self._redirections())
        word = _literal(token[1]) if token[0] == "word" else None
        if word in ("while", "until"):
            self.pos += 1
            condition = self._list(("do",))
            self._expect_word("do")
            body = self._list(("done",))
            self._expect_word("done")
            return ("while", condition, body, word == "until", self._redirections())
        if word == "for":
            return self._for()
        if word == "if":
            return self._if()
        if word == "{":
            self.pos += 1
            body = self._list(("}",))
            self._expect_word("}")
            return ("group", body, self._redirections())
        if word in _RESERVED:
            raise _unexpected(token)
        return self._simple()

    def _for(self) -> Node:
        self.pos += 1
        token = self._peek()
        name = _literal(token[1]) if token is not None and token[0] == "word" else None
        if name is None or not _IDENTIFIER.fullmatch(name):
            raise _ShellSyntax("bad for loop variable")
        self.pos += 1
        self._skip("\n")
        words: list[Word] | None = None
        if self._is_word("in"):
            self.pos += 1
            words = []
            while (token := self._peek()) is not None and token[0] == "word":
                words.append(token[1])
                self.pos += 1
        self._skip("\n", ";")
        self._expect_word("do")
        body = self._list(("done",))
        self._expect_word("done")
        return ("for", name, words, body, self._redirections())

    def _if(self) -> Node:
        self.pos += 1
        branches: list[tuple[Node, Node]] = []
        condition = self._list(("then",))
        self._expect_word("then")
        branches.append((condition, self._list(("elif", "else", "fi"))))
        while self._is_word("elif"):
            self.pos += 1
            condition = self._list(("then",))
            self._expect_word("then")
            branches.append((condition, self._list(("elif", "else", "fi"))))
        otherwise = None
        if self._is_word("else"):
            self.pos += 1
            otherwise = self._list(("fi",))
        self._expect_word("fi")
        return ("if", branches, otherwise, self._redirections())

    def _redirections(self) -> list[tuple[str, Word | None]]:
        redirections: list[tuple[str, Word | None]] = []
        while self._is_op(*_REDIRECTIONS):
            redirections.append(self._redirection())
        return redirections

    def _redirection(self) -> tuple[str, Word | None]:
        op = self.tokens[self.pos][1]
        self.pos += 1
        if op in ("2>&1", "1>&2", ">&2"):
            return op, None
        token = self._peek()
        if token is None or token[0] != "word":
            raise _unexpected(token)
        self.pos += 1
        return op, token[1]

    def _simple(self) -> Node:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirections: list[tuple[str, Word | None]] = []
        while (token := self._peek()) is not None:
            if token[0] == "op":
                if token[1] not in _REDIRECTIONS:
                    break
                redirections.append(self._redirection())
                continue
            assignment = _assignment(token[1]) if not words else None
            if assignment is not None:
                assigns.append(assignment)
            else:
                words.append(token[1])
            self.pos += 1
        if not (assigns or words or redirections):
            raise _unexpected(self._peek())
        return ("simple", assigns, words, redirections)


def _parse_script(source: str) -> Node:
    return _Parser(_lex(source)).program()


def _simple_names(node: Any) -> Iterator[str]:
    """First words of every simple command in a tree (to spot `exit` or `break` inside a loop)."""
    if isinstance(node, tuple) and node and node[0] == "simple":
        if node[2]:
            literal = _literal(node[2][0])
            if literal is not None:
                yield literal
        return
    if isinstance(node, tuple | list):
        for child in node:
            yield from _simple_names(child)


def _endless(condition: Node, body: Node, until: bool) -> bool:
    """A `while true` (or `until false`) loop whose body cannot leave it."""
    items = condition[1] if condition[0] == "seq" else [condition]
    if len(items) != 1 or items[0][0] != "simple" or len(items[0][2]) != 1:
        return False
    word = _literal(items[0][2][0])
    if word not in (("false",) if until else ("true", ":")):
        return False
    return not any(name in ("exit", "break", "return", "exec", "kill") for name in _simple_names(body))


def _traps_sigterm(argv: Sequence[str]) -> bool:
    """Whether PID 1 reacts to SIGTERM: a shell or `sleep` as PID 1 ignores it unless the script traps it."""
    if not argv or posixpath.basename(argv[0]) not in _SHELLS:
        return posixpath.basename(argv[0]) not in {"sleep", "tail"} if argv else True
    return re.search(r"\btrap\b[^;\n]*\b(TERM|SIGTERM|15|EXIT|INT)\b", " ".join(argv)) is not None


_ARITH_BINARY: Mapping[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: int(a / b) if b else _zero_division(),
    ast.FloorDiv: lambda a, b: int(a / b) if b else _zero_division(),
    ast.Mod: lambda a, b: int(math.fmod(a, b)) if b else _zero_division(),
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
}
_ARITH_COMPARE: Mapping[type, Callable[[int, int], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _zero_division() -> int:
    raise ZeroDivisionError


def _eval_arith(node: ast.AST) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH_BINARY:
        return _ARITH_BINARY[type(node.op)](_eval_arith(node.left), _eval_arith(node.right))
    if isinstance(node, ast.UnaryOp):
        value = _eval_arith(node.operand)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return value
        if isinstance(node.op, ast.Not):
            return int(not value)
        if isinstance(node.op, ast.Invert):
            return ~value
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _ARITH_COMPARE:
        return int(_ARITH_COMPARE[type(node.ops[0])](_eval_arith(node.left), _eval_arith(node.comparators[0])))
    if isinstance(node, ast.BoolOp):
        values = [_eval_arith(value) for value in node.values]
        return int(all(values) if isinstance(node.op, ast.And) else any(values))
    raise ValueError("arithmetic syntax error")


_Sink = tuple[Any, ...]


class _Shell:
    """A small POSIX-shell interpreter on a virtual clock: output becomes log lines, `sleep` advances time,
    files written or removed are reported so exec probes can look at them later."""

    def __init__(
        self,
        env: Mapping[str, str],
        files: Mapping[str, str],
        hostname: str,
        *,
        fallback: Callable[[list[str]], tuple[int, str]] | None = None,
        detect_only: bool = False,
        max_steps: int | None = None,
    ) -> None:
        self.vars: dict[str, str] = dict(env)
        self.exported: set[str] = set(env)
        self.files: dict[str, str] = {"/etc/hostname": hostname + "\n", "/dev/null": "", **files}
        self.dirs: set[str] = set(_BASE_DIRS)
        self.hostname = hostname
        self.fallback = fallback
        self.detect_only = detect_only
        self.max_steps = max_steps or (_DETECT_STEPS if detect_only else _MAX_STEPS)
        self.now = 0.0
        self.status = 0
        self.steps = 0
        self.args: list[str] = []
        self.name = "sh"
        self.errexit = False
        self.conditions = 0
        self.stdin = ""
        self.pending = ""
        self.events: list[_Event] = []
        self.stdout: list[_Sink] = [("log",)]
        self.stderr: list[_Sink] = [("log",)]
        self.random = random.Random(hostname)

    # -- entry points ------------------------------------------------------------------------------------

    def run(self, argv: Sequence[str]) -> Iterator[_Event]:
        """Run `argv` as PID 1: log lines and file changes, then `exit` (with the code) or `forever`."""
        code = 0
        try:
            yield from self._command(list(argv))
            code = self.status
        except _ShellExit as done:
            code = done.code
        except (_ShellForever, _ShellBudget):
            yield from self._finish()
            yield _Event(self.now, "forever")
            return
        except (_Break, _Continue):
            code = self.status
        yield from self._finish()
        yield _Event(self.now, "exit", code=code & 0xFF)

    def run_to_end(self, argv: Sequence[str]) -> tuple[int, str]:
        """Run a short command (an exec probe): its exit code and output."""
        self.max_steps = _PROBE_STEPS
        lines: list[str] = []
        code = 1
        for event in self.run(argv):
            if event.kind == "line":
                lines.append(_resolve_time_markers(event.text, datetime.now(UTC)))
            elif event.kind == "exit":
                code = event.code
            elif event.kind == "forever":
                return 1, f'command "{" ".join(argv)}" timed out'
        return code, "\n".join(lines)

    # -- output ------------------------------------------------------------------------------------------

    def write(self, text: str, *, err: bool = False) -> None:
        sink = (self.stderr if err else self.stdout)[-1]
        if sink[0] == "log":
            self.pending += text
            while "\n" in self.pending:
                line, self.pending = self.pending.split("\n", 1)
                self.events.append(_Event(self.now, "line", line))
        elif sink[0] == "capture":
            sink[1].append(text)
        elif sink[0] == "file":
            self._set_file(sink[1], self.files.get(sink[1], "") + text)

    def _set_file(self, path: str, content: str) -> None:
        self.files[path] = content
        self.events.append(_Event(self.now, "file", f"{path}\x00{content}", exists=True))

    def _remove_file(self, path: str) -> None:
        self.files.pop(path, None)
        self.events.append(_Event(self.now, "file", path, exists=False))

    def _drain(self) -> Iterator[_Event]:
        events, self.events = self.events, []
        yield from events

    def _finish(self) -> Iterator[_Event]:
        if self.pending:
            self.events.append(_Event(self.now, "line", self.pending))
            self.pending = ""
        yield from self._drain()

    # -- files ---------------------------------------------------------------------------------------------

    def path(self, name: str) -> str:
        return posixpath.normpath(posixpath.join("/", name))

    def is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return path in self.dirs or any(name.startswith(prefix) for name in self.files)

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        names = {name[len(prefix) :].split("/", 1)[0] for name in [*self.files, *self.dirs] if name.startswith(prefix)}
        return sorted(name for name in names if name)

    # -- execution ---------------------------------------------------------------------------------------

    def _step(self) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise _ShellBudget

    def _script(self, source: str, name: str, args: list[str], *, errexit: bool = False) -> Iterator[_Event]:
        """Run a script as a child process: its variables do not leak, `exit` ends only the child."""
        try:
            tree = _parse_script(source)
        except _ShellSyntax as err:
            self.write(f"{name}: syntax error: {str(err).removeprefix('syntax error: ')}\n", err=True)
            self.status = 2
            return
        saved = (self.vars, self.exported, self.args, self.name, self.errexit)
        self.vars, self.exported = dict(self.vars), set(self.exported)
        self.args, self.name, self.errexit = list(args), name, errexit
        try:
            yield from self._exec(tree)
        except _ShellExit as done:
            self.status = done.code
        except (_Break, _Continue):
            pass
        finally:
            self.vars, self.exported, self.args, self.name, self.errexit = saved

    def _exec(self, node: Node) -> Iterator[_Event]:
        kind = node[0]
        if kind == "seq":
            for item in node[1]:
                yield from self._exec(item)
        elif kind == "andor":
            yield from self._and_or(node)
        elif kind == "pipe":
            yield from self._pipe(node)
        elif kind == "simple":
            yield from self._simple(node)
        elif kind == "while":
            yield from self._redirected(node[4], self._while(node))
        elif kind == "for":
            yield from self._redirected(node[4], self._for(node))
        elif kind == "if":
            yield from self._redirected(node[3], self._if(node))
        elif kind == "group":
            yield from self._redirected(node[2], self._exec(node[1]))
        elif kind == "subshell":
            yield from self._redirected(node[2], self._subshell(node[1]))

    def _guarded(self, node: Node) -> Iterator[_Event]:
        """Run a command whose failure must not trigger `set -e` (conditions, left sides of && and ||)."""
        self.conditions += 1
        try:
            yield from self._exec(node)
        finally:
            self.conditions -= 1

    def _and_or(self, node: Node) -> Iterator[_Event]:
        _, first, rest = node
        yield from self._guarded(first)
        for index, (op, pipeline) in enumerate(rest):
            if (self.status == 0) != (op == "&&"):
                continue
            yield from self._exec(pipeline) if index == len(rest) - 1 else self._guarded(pipeline)

    def _pipe(self, node: Node) -> Iterator[_Event]:
        _, commands, negate = node
        saved_stdin = self.stdin
        try:
            for index, command in enumerate(commands):
                if index == len(commands) - 1:
                    yield from self._guarded(command) if negate else self._exec(command)
                    break
                captured: list[str] = []
                self.stdout.append(("capture", captured))
                try:
                    yield from self._guarded(command)
                finally:
                    self.stdout.pop()
                self.stdin = "".join(captured)
        finally:
            self.stdin = saved_stdin
        if negate:
            self.status = 0 if self.status else 1

    def _while(self, node: Node) -> Iterator[_Event]:
        _, condition, body, until, _ = node
        if self.detect_only and _endless(condition, body, until):
            raise _ShellForever
        last = 0
        while True:
            started = self.now
            self._step()
            yield from self._guarded(condition)
            if (self.status == 0) == until:
                break
            try:
                yield from self._exec(body)
            except _Break:
                break
            except _Continue:
                pass
            last = self.status
            if self.now == started:
                self.now += _LOOP_TICK
        self.status = last

    def _for(self, node: Node) -> Iterator[_Event]:
        _, name, words, body, _ = node
        items = list(self.args) if words is None else [item for word in words for item in self._expand_word(word)]
        last = 0
        for item in items:
            self._step()
            self.vars[name] = item
            try:
                yield from self._exec(body)
            except _Break:
                break
            except _Continue:
                continue
            last = self.status
        self.status = last

    def _if(self, node: Node) -> Iterator[_Event]:
        _, branches, otherwise, _ = node
        for condition, body in branches:
            yield from self._guarded(condition)
            if self.status == 0:
                yield from self._exec(body)
                return
        if otherwise is not None:
            yield from self._exec(otherwise)
        else:
            self.status = 0

    def _subshell(self, body: Node) -> Iterator[_Event]:
        saved = (dict(self.vars), set(self.exported))
        try:
            yield from self._exec(body)
        except _ShellExit as done:
            self.status = done.code
        finally:
            self.vars, self.exported = saved

    def _simple(self, node: Node) -> Iterator[_Event]:
        _, assigns, words, redirections = node
        self._step()
        try:
            argv = [item for word in words for item in self._expand_word(word)]
            values = [(name, self._expand_text(parts)) for name, parts in assigns]
        except _ShellRuntime as err:
            self.write(f"sh: {err}\n", err=True)
            raise _ShellExit(2) from None
        for name, value in values:
            self.vars[name] = value
        if not argv:
            self.status = 0
            yield from self._redirected(redirections, iter(()))
            yield from self._drain()
            return
        yield from self._redirected(redirections, self._command(argv))
        yield from self._drain()
        if self.status != 0 and self.errexit and self.conditions == 0:
            raise _ShellExit(self.status)

    def _redirected(self, redirections: list[tuple[str, Word | None]], body: Iterator[_Event]) -> Iterator[_Event]:
        pushed: list[list[_Sink]] = []
        saved_stdin = self.stdin
        try:
            for op, target in redirections:
                path = self.path(self._expand_text(target)) if target is not None else ""
                if op in (">", "1>", ">>", ">&"):
                    self.stdout.append(self._file_sink(path, append=op == ">>"))
                    pushed.append(self.stdout)
                elif op == "2>":
                    self.stderr.append(self._file_sink(path, append=False))
                    pushed.append(self.stderr)
                elif op == "&>":
                    sink = self._file_sink(path, append=False)
                    self.stdout.append(sink)
                    self.stderr.append(sink)
                    pushed.extend([self.stdout, self.stderr])
                elif op == "2>&1":
                    self.stderr.append(self.stdout[-1])
                    pushed.append(self.stderr)
                elif op in ("1>&2", ">&2"):
                    self.stdout.append(self.stderr[-1])
                    pushed.append(self.stdout)
                elif op == "<":
                    self.stdin = self.files.get(path, "")
            yield from body
        finally:
            for stack in reversed(pushed):
                stack.pop()
            self.stdin = saved_stdin

    def _file_sink(self, path: str, *, append: bool) -> _Sink:
        if path == "/dev/null":
            return ("null",)
        if path == "/dev/stdout":
            return self.stdout[-1]
        if path == "/dev/stderr":
            return self.stderr[-1]
        if not append or path not in self.files:
            self._set_file(path, "")
        return ("file", path)

    # -- expansion ---------------------------------------------------------------------------------------

    def _expand(self, parts: Word) -> list[str]:
        fields: list[str] = []
        current, present = "", False
        for kind, value, quoted in parts:
            if kind == "lit":
                current, present = current + value, True
                continue
            if kind == "var" and value == "@" and quoted:
                if self.args:
                    fields.extend([current + self.args[0], *self.args[1:]][:-1])
                    current, present = self.args[-1] if len(self.args) > 1 else current + self.args[0], True
                continue
            text = self._evaluate(kind, value)
            if quoted:
                current, present = current + text, True
                continue
            pieces = text.split()
            if not pieces:
                continue
            if text[:1].isspace() and present:
                fields.append(current)
                current = ""
            current += pieces[0]
            for piece in pieces[1:]:
                fields.append(current)
                current = piece
            present = True
            if text[-1:].isspace():
                fields.append(current)
                current, present = "", False
        if present:
            fields.append(current)
        return fields

    def _expand_word(self, parts: Word) -> list[str]:
        """Fields of a word, with unquoted `*`, `?` and `[...]` matched against the container's files."""
        fields = self._expand(parts)
        if not any(kind == "lit" and not quoted and re.search(r"[*?\[]", value) for kind, value, quoted in parts):
            return fields
        expanded: list[str] = []
        for item in fields:
            expanded.extend(self._glob(item) or [item])
        return expanded

    def _glob(self, pattern: str) -> list[str]:
        absolute = self.path(pattern)
        depth = absolute.count("/")
        candidates = {*self.files, *self.dirs} | {
            posixpath.join(directory, child) for directory in self.dirs for child in self.children(directory)
        }
        matches = sorted(
            path for path in candidates if path.count("/") == depth and fnmatch.fnmatchcase(path, absolute)
        )
        return matches if pattern.startswith("/") else [path.lstrip("/") for path in matches]

    def _expand_text(self, parts: Word) -> str:
        return "".join(value if kind == "lit" else self._evaluate(kind, value) for kind, value, _ in parts)

    def _evaluate(self, kind: str, value: str) -> str:
        if kind == "var":
            return self._parameter(value)
        if kind == "cmd":
            return self._substitute(value)
        return str(self._arithmetic(value))

    def _variable(self, name: str) -> str:
        special = {
            "?": str(self.status),
            "$": "1",
            "#": str(len(self.args)),
            "@": " ".join(self.args),
            "*": " ".join(self.args),
            "0": self.name,
            "!": "",
            "-": "e" if self.errexit else "",
        }
        if name in special:
            return special[name]
        if name.isdigit():
            index = int(name)
            return self.args[index - 1] if 0 < index <= len(self.args) else ""
        if name == "RANDOM" and name not in self.vars:
            return str(self.random.randint(0, 32767))
        return self.vars.get(name, "")

    def _parameter(self, expression: str) -> str:
        if expression.startswith("#") and len(expression) > 1:
            return str(len(self._variable(expression[1:])))
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?$#@*!-])(?:(:?[-=+?])(.*))?", expression, re.S)
        if match is None:
            raise _ShellRuntime(f"${{{expression}}}: bad substitution")
        name, op, word = match.groups()
        value = self._variable(name)
        if op is None:
            return value
        is_set = name in self.vars if _IDENTIFIER.fullmatch(name) else True
        present = bool(value) if op.startswith(":") else is_set
        alternative = self._expand_text(_lex_word(word))
        kind = op[-1]
        if kind == "-":
            return value if present else alternative
        if kind == "=":
            if not present:
                self.vars[name] = alternative
                return alternative
            return value
        if kind == "+":
            return alternative if present else ""
        if not present:
            raise _ShellRuntime(f"{name}: {alternative or 'parameter not set'}")
        return value

    def _substitute(self, source: str) -> str:
        captured: list[str] = []
        self.stdout.append(("capture", captured))
        try:
            for event in self._script(source, self.name, self.args):
                self.events.append(event)
        finally:
            self.stdout.pop()
        return "".join(captured).rstrip("\n")

    def _arithmetic(self, expression: str) -> int:
        text = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*|[0-9?#])\}?", lambda m: self._variable(m[1]) or "0", expression)
        text = re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: self.vars.get(m[0]) or "0", text)
        text = text.replace("&&", " and ").replace("||", " or ")
        text = re.sub(r"!(?!=)", " not ", text)
        try:
            return _eval_arith(ast.parse(text.strip() or "0", mode="eval").body)
        except (SyntaxError, ValueError, ZeroDivisionError, RecursionError, OverflowError):
            raise _ShellRuntime("arithmetic syntax error") from None

    # -- commands ----------------------------------------------------------------------------------------

    def _command(self, argv: list[str]) -> Iterator[_Event]:
        program = posixpath.basename(argv[0])
        args = argv[1:]
        if program in _SHELLS:
            yield from self._shell_program(args)
        elif program == "exec":
            if args:
                yield from self._command(args)
            else:
                self.status = 0
        elif program == "sleep":
            self._sleep(args)
        elif program in _BUILTINS:
            self.status = _BUILTINS[program](self, args)
        elif self.path(argv[0]) in self.files and "/" in argv[0]:
            yield from self._script(self.files[self.path(argv[0])], argv[0], args)
        elif self.fallback is not None:
            code, output = self.fallback(argv)
            if output:
                self.write(output + "\n")
            self.status = code
        elif program in _NETWORK_PROGRAMS:
            self.write(
                f"{program}: network access from containers is not simulated in the embedded cluster "
                "(use the kind backend)\n",
                err=True,
            )
            self.status = 1
        else:
            self.write(f"sh: {argv[0]}: not found\n", err=True)
            self.status = 127

    def _shell_program(self, args: list[str]) -> Iterator[_Event]:
        flags = ""
        index = 0
        while index < len(args) and args[index].startswith("-") and args[index] not in ("-", "--"):
            flags += args[index][1:]
            index += 1
            if "c" in flags:
                break
        if index < len(args) and args[index] == "--":
            index += 1
        if "c" in flags:
            if index >= len(args):
                self.write("sh: -c requires an argument\n", err=True)
                self.status = 2
                return
            name = args[index + 1] if index + 1 < len(args) else "sh"
            yield from self._script(args[index], name, args[index + 2 :], errexit="e" in flags)
        elif index < len(args):
            path = self.path(args[index])
            if path not in self.files:
                self.write(f"sh: can't open '{args[index]}': No such file or directory\n", err=True)
                self.status = 2
                return
            yield from self._script(self.files[path], args[index], args[index + 1 :], errexit="e" in flags)
        else:
            yield from self._script(self.stdin, "sh", [], errexit="e" in flags)

    def _sleep(self, args: list[str]) -> None:
        if not args:
            self.write("sleep: missing operand\n", err=True)
            self.status = 1
            return
        total = 0.0
        for arg in args:
            if arg in ("inf", "infinity"):
                raise _ShellForever
            match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", arg)
            if match is None:
                self.write(f"sleep: invalid number '{arg}'\n", err=True)
                self.status = 1
                return
            total += float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
        self.now += total
        self.status = 0


def _lex_word(text: str) -> Word:
    """The parts of a `${NAME:-word}` default, expanded like a double-quoted string."""
    parts: Word = []
    try:
        _lex_double_quoted(text + '"', 0, parts)
    except _ShellSyntax:
        return [("lit", text, True)]
    return parts


# -- builtins: each takes the shell and its arguments and returns the exit status ---------------------------


def _unescape(text: str) -> tuple[str, bool]:
    out: list[str] = []
    index = 0
    escapes = {
        "n": "\n",
        "t": "\t",
        "\\": "\\",
        "a": "\a",
        "b": "\b",
        "r": "\r",
        "e": "\x1b",
        "v": "\v",
        "f": "\f",
    }
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            if following == "c":
                return "".join(out), True
            if following in escapes:
                out.append(escapes[following])
                index += 2
                continue
        out.append(char)
        index += 1
    return "".join(out), False


def _b_echo(shell: _Shell, args: list[str]) -> int:
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = "e" in args[0] or (escapes and "E" not in args[0])
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text, stop = _unescape(text)
        newline = newline and not stop
    shell.write(text + ("\n" if newline else ""))
    return 0


_PRINTF_SPEC = re.compile(r"%([-+ #0]*\d*(?:\.\d+)?)([sdiouxXfeEgGcb%])")


def _printf_conversion(flags: str, conversion: str, value: str) -> str:
    if conversion in "sb":
        return ("%" + flags + "s") % (_unescape(value)[0] if conversion == "b" else value)
    if conversion == "c":
        return value[:1]
    try:
        number: float = float(value or 0) if conversion in "feEgG" else int(value or 0, 0)
    except ValueError:
        number = 0
    return ("%" + flags + conversion.replace("i", "d").replace("u", "d")) % number


def _printf_once(fmt: str, values: list[str]) -> tuple[str, int]:
    """One pass of the format over the values: the text and how many values it used."""
    out: list[str] = []
    used = 0
    last = 0
    for match in _PRINTF_SPEC.finditer(fmt):
        out.append(fmt[last : match.start()])
        last = match.end()
        if match[2] == "%":
            out.append("%")
            continue
        out.append(_printf_conversion(match[1], match[2], values[used] if used < len(values) else ""))
        used += 1
    out.append(fmt[last:])
    return "".join(out), used


def _b_printf(shell: _Shell, args: list[str]) -> int:
    if not args:
        shell.write("printf: usage: printf FORMAT [ARGUMENT]...\n", err=True)
        return 1
    fmt, values = _unescape(args[0])[0], list(args[1:])
    out: list[str] = []
    while True:
        text, used = _printf_once(fmt, values)
        out.append(text)
        values = values[used:]
        if not values or used == 0:
            break
    shell.write("".join(out))
    return 0


def _b_cat(shell: _Shell, args: list[str]) -> int:
    names = [arg for arg in args if arg == "-" or not arg.startswith("-")]
    if not names:
        shell.write(shell.stdin)
        return 0
    status = 0
    for name in names:
        path = shell.path(name)
        if name == "-":
            shell.write(shell.stdin)
        elif path in shell.files:
            shell.write(shell.files[path])
        elif shell.is_dir(path):
            shell.write("cat: read error: Is a directory\n", err=True)
            status = 1
        else:
            shell.write(f"cat: can't open '{name}': No such file or directory\n", err=True)
            status = 1
    return status


def _b_env(shell: _Shell, args: list[str]) -> int:
    for name, value in shell.vars.items():
        if name in shell.exported:
            shell.write(f"{name}={value}\n")
    return 0


def _b_printenv(shell: _Shell, args: list[str]) -> int:
    if not args:
        return _b_env(shell, args)
    status = 0
    for name in args:
        if name in shell.exported and name in shell.vars:
            shell.write(shell.vars[name] + "\n")
        else:
            status = 1
    return status


def _b_date(shell: _Shell, args: list[str]) -> int:
    fmt = next((arg[1:] for arg in args if arg.startswith("+")), _TIME_FORMATS["time.date"])
    shell.write(f"\x00{fmt}\x01{shell.now!r}\x00\n")
    return 0


def _b_touch(shell: _Shell, args: list[str]) -> int:
    for name in (arg for arg in args if not arg.startswith("-")):
        path = shell.path(name)
        if path not in shell.files and not shell.is_dir(path):
            shell._set_file(path, "")
    return 0


def _b_rm(shell: _Shell, args: list[str]) -> int:
    flags = "".join(arg[1:] for arg in args if arg.startswith("-"))
    status = 0
    for name in (arg for arg in args if not arg.startswith("-")):
        path = shell.path(name)
        if path in shell.files:
            shell._remove_file(path)
        elif "r" in flags.lower() and shell.is_dir(path):
            for inner in [item for item in shell.files if _under(item, path)]:
                shell._remove_file(inner)
            shell.dirs.discard(path)
        elif shell.is_dir(path):
            shell.write(f"rm: '{name}' is a directory\n", err=True)
            status = 1
        elif "f" not in flags:
            shell.write(f"rm: can't remove '{name}': No such file or directory\n", err=True)
            status = 1
    return status


def _b_mkdir(shell: _Shell, args: list[str]) -> int:
    parents = any(arg.startswith("-") and "p" in arg for arg in args)
    status = 0
    for name in (arg for arg in args if not arg.startswith("-")):
        path = shell.path(name)
        if (path in shell.files or shell.is_dir(path)) and not parents:
            shell.write(f"mkdir: can't create directory '{name}': File exists\n", err=True)
            status = 1
            continue
        while path not in ("/", ""):
            shell.dirs.add(path)
            path = posixpath.dirname(path)
    return status


def _b_ls(shell: _Shell, args: list[str]) -> int:
    names = [arg for arg in args if not arg.startswith("-")] or ["."]
    status = 0
    for name in names:
        path = shell.path(name)
        if path in shell.files:
            shell.write(name + "\n")
        elif shell.is_dir(path):
            if len(names) > 1:
                shell.write(f"{name}:\n")
            for child in shell.children(path):
                shell.write(child + "\n")
        else:
            shell.write(f"ls: {name}: No such file or directory\n", err=True)
            status = 1
    return status


def _copy(shell: _Shell, args: list[str], *, move: bool) -> int:
    names = [arg for arg in args if not arg.startswith("-")]
    command = "mv" if move else "cp"
    if len(names) != 2:
        shell.write(f"{command}: missing destination file operand\n", err=True)
        return 1
    source, target = shell.path(names[0]), shell.path(names[1])
    if source not in shell.files:
        shell.write(f"{command}: can't stat '{names[0]}': No such file or directory\n", err=True)
        return 1
    if shell.is_dir(target):
        target = posixpath.join(target, posixpath.basename(source))
    shell._set_file(target, shell.files[source])
    if move:
        shell._remove_file(source)
    return 0


def _test(shell: _Shell, args: list[str]) -> int:
    if args and args[0] == "!":
        result = _test(shell, args[1:])
        return result if result > 1 else 1 - result
    if not args:
        return 1
    if len(args) == 1:
        return 0 if args[0] else 1
    if len(args) == 2:
        op, operand = args
        path = shell.path(operand) if operand else ""
        checks = {
            "-z": not operand,
            "-n": bool(operand),
            "-f": path in shell.files,
            "-e": path in shell.files or shell.is_dir(path),
            "-d": path not in shell.files and shell.is_dir(path),
            "-s": bool(shell.files.get(path)),
            "-r": path in shell.files or shell.is_dir(path),
            "-w": path in shell.files or shell.is_dir(path),
            "-x": shell.is_dir(path),
        }
        if op not in checks:
            shell.write(f"sh: {op}: unknown operand\n", err=True)
            return 2
        return 0 if checks[op] else 1
    left, op, right = args[0], args[1], args[2]
    if op in ("=", "=="):
        return 0 if left == right else 1
    if op == "!=":
        return 0 if left != right else 1
    numeric = {
        "-eq": operator.eq,
        "-ne": operator.ne,
        "-lt": operator.lt,
        "-le": operator.le,
        "-gt": operator.gt,
        "-ge": operator.ge,
    }
    if op in numeric:
        try:
            return 0 if numeric[op](int(left), int(right)) else 1
        except ValueError:
            shell.write(f"sh: {left if not left.lstrip('-').isdigit() else right}: bad number\n", err=True)
            return 2
    shell.write(f"sh: {op}: unknown operand\n", err=True)
    return 2


def _b_bracket(shell: _Shell, args: list[str]) -> int:
    if not args or args[-1] != "]":
        shell.write("sh: missing ]\n", err=True)
        return 2
    return _test(shell, args[:-1])


def _b_seq(shell: _Shell, args: list[str]) -> int:
    try:
        numbers = [int(arg) for arg in args]
    except ValueError:
        shell.write(f"seq: invalid number '{next(a for a in args if not a.lstrip('-').isdigit())}'\n", err=True)
        return 1
    if len(numbers) == 1:
        first, step, last = 1, 1, numbers[0]
    elif len(numbers) == 2:
        first, step, last = numbers[0], 1, numbers[1]
    elif len(numbers) == 3:
        first, step, last = numbers
    else:
        shell.write("seq: usage: seq [FIRST [INC]] LAST\n", err=True)
        return 1
    if step == 0:
        return 1
    values = range(first, last + (1 if step > 0 else -1), step)
    shell.write("".join(f"{value}\n" for value in values[:100_000]))
    return 0


def _line_count(args: list[str], default: int = 10) -> tuple[int, list[str]]:
    count, rest = default, []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "-n" and index + 1 < len(args):
            count = int(args[index + 1]) if args[index + 1].lstrip("+-").isdigit() else default
            index += 2
            continue
        if re.fullmatch(r"-\d+", arg):
            count = int(arg[1:])
        elif not arg.startswith("-"):
            rest.append(arg)
        index += 1
    return abs(count), rest


def _input_text(shell: _Shell, names: list[str], program: str) -> str | None:
    if not names:
        return shell.stdin
    texts = []
    for name in names:
        path = shell.path(name)
        if path not in shell.files:
            shell.write(f"{program}: can't open '{name}': No such file or directory\n", err=True)
            return None
        texts.append(shell.files[path])
    return "".join(texts)


def _b_head(shell: _Shell, args: list[str]) -> int:
    count, names = _line_count(args)
    text = _input_text(shell, names, "head")
    if text is None:
        return 1
    shell.write("".join(text.splitlines(keepends=True)[:count]))
    return 0


def _b_tail(shell: _Shell, args: list[str]) -> int:
    follow = any(arg.startswith("-") and "f" in arg for arg in args)
    count, names = _line_count([arg for arg in args if not (arg.startswith("-") and "f" in arg)])
    text = _input_text(shell, names, "tail")
    if text is None:
        return 1
    lines = text.splitlines(keepends=True)
    shell.write("".join(lines[-count:] if count else []))
    if follow:
        raise _ShellForever
    return 0


def _b_grep(shell: _Shell, args: list[str]) -> int:
    flags = "".join(arg[1:] for arg in args if arg.startswith("-") and len(arg) > 1)
    rest = [arg for arg in args if not (arg.startswith("-") and len(arg) > 1)]
    if not rest:
        shell.write("grep: usage: grep [-qvic] PATTERN [FILE]...\n", err=True)
        return 2
    pattern, names = rest[0], rest[1:]
    text = _input_text(shell, names, "grep")
    if text is None:
        return 2
    try:
        regex = re.compile(pattern, re.IGNORECASE if "i" in flags else 0)
    except re.error:
        regex = re.compile(re.escape(pattern), re.IGNORECASE if "i" in flags else 0)
    matched = [line for line in text.splitlines() if bool(regex.search(line)) != ("v" in flags)]
    if "c" in flags:
        shell.write(f"{len(matched)}\n")
    elif "q" not in flags:
        shell.write("".join(line + "\n" for line in matched))
    return 0 if matched else 1


def _b_wc(shell: _Shell, args: list[str]) -> int:
    flags = "".join(arg[1:] for arg in args if arg.startswith("-"))
    text = _input_text(shell, [arg for arg in args if not arg.startswith("-")], "wc")
    if text is None:
        return 1
    counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(text.encode())}
    chosen = [str(counts[flag]) for flag in "lwc" if flag in flags] or [str(counts[flag]) for flag in "lwc"]
    shell.write(" ".join(chosen) + "\n")
    return 0


def _b_tee(shell: _Shell, args: list[str]) -> int:
    append = any(arg.startswith("-") and "a" in arg for arg in args)
    for name in (arg for arg in args if not arg.startswith("-")):
        path = shell.path(name)
        shell._set_file(path, (shell.files.get(path, "") if append else "") + shell.stdin)
    shell.write(shell.stdin)
    return 0


def _b_export(shell: _Shell, args: list[str]) -> int:
    for arg in args:
        name, equals, value = arg.partition("=")
        if equals:
            shell.vars[name] = value
        shell.exported.add(name)
    return 0


def _b_unset(shell: _Shell, args: list[str]) -> int:
    for name in args:
        shell.vars.pop(name, None)
        shell.exported.discard(name)
    return 0


def _b_set(shell: _Shell, args: list[str]) -> int:
    for index, arg in enumerate(args):
        if arg == "--":
            shell.args = list(args[index + 1 :])
            break
        if arg.startswith("-") and "e" in arg:
            shell.errexit = True
        elif arg.startswith("+") and "e" in arg:
            shell.errexit = False
    return 0


def _b_read(shell: _Shell, args: list[str]) -> int:
    if not shell.stdin:
        return 1
    line, _, shell.stdin = shell.stdin.partition("\n")
    names = [arg for arg in args if not arg.startswith("-")] or ["REPLY"]
    values = line.split(maxsplit=len(names) - 1)
    for index, name in enumerate(names):
        shell.vars[name] = values[index] if index < len(values) else ""
    return 0


def _b_exit(shell: _Shell, args: list[str]) -> int:
    if not args:
        raise _ShellExit(shell.status)
    if not args[0].lstrip("-").isdigit():
        shell.write(f"sh: exit: Illegal number: {args[0]}\n", err=True)
        raise _ShellExit(2)
    raise _ShellExit(int(args[0]) & 0xFF)


def _b_shift(shell: _Shell, args: list[str]) -> int:
    count = int(args[0]) if args and args[0].isdigit() else 1
    if count > len(shell.args):
        return 1
    shell.args = shell.args[count:]
    return 0


def _b_break(shell: _Shell, args: list[str]) -> int:
    raise _Break


def _b_continue(shell: _Shell, args: list[str]) -> int:
    raise _Continue


def _b_uname(shell: _Shell, args: list[str]) -> int:
    flags = "".join(arg[1:] for arg in args if arg.startswith("-"))
    if "a" in flags:
        shell.write(f"Linux {shell.hostname} 6.8.0-generic #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\n")
    elif "r" in flags:
        shell.write("6.8.0-generic\n")
    else:
        shell.write("Linux\n")
    return 0


def _b_basename(shell: _Shell, args: list[str]) -> int:
    if not args:
        return 1
    name = posixpath.basename(args[0].rstrip("/")) or "/"
    if len(args) > 1 and name.endswith(args[1]) and name != args[1]:
        name = name[: -len(args[1])]
    shell.write(name + "\n")
    return 0


def _b_dirname(shell: _Shell, args: list[str]) -> int:
    if not args:
        return 1
    shell.write((posixpath.dirname(args[0].rstrip("/")) or ".") + "\n")
    return 0


def _constant(output: str | None = None, status: int = 0) -> Callable[[_Shell, list[str]], int]:
    def builtin(shell: _Shell, args: list[str]) -> int:
        if output is not None:
            shell.write(output)
        return status

    return builtin


_BUILTINS: Mapping[str, Callable[[_Shell, list[str]], int]] = {
    "echo": _b_echo,
    "printf": _b_printf,
    "cat": _b_cat,
    "env": _b_env,
    "printenv": _b_printenv,
    "date": _b_date,
    "hostname": lambda shell, args: _constant(shell.hostname + "\n")(shell, args),
    "touch": _b_touch,
    "rm": _b_rm,
    "mkdir": _b_mkdir,
    "ls": _b_ls,
    "cp": lambda shell, args: _copy(shell, args, move=False),
    "mv": lambda shell, args: _copy(shell, args, move=True),
    "test": _test,
    "[": _b_bracket,
    "seq": _b_seq,
    "head": _b_head,
    "tail": _b_tail,
    "grep": _b_grep,
    "wc": _b_wc,
    "tee": _b_tee,
    "export": _b_export,
    "unset": _b_unset,
    "set": _b_set,
    "read": _b_read,
    "exit": _b_exit,
    "return": _b_exit,
    "shift": _b_shift,
    "break": _b_break,
    "continue": _b_continue,
    "uname": _b_uname,
    "basename": _b_basename,
    "dirname": _b_dirname,
    "true": _constant(),
    ":": _constant(),
    "false": _constant(status=1),
    "pwd": _constant("/\n"),
    "whoami": _constant("root\n"),
    "trap": _constant(),
    "wait": _constant(),
    "cd": _constant(),
    "umask": _constant(),
    "ulimit": _constant(),
    "chmod": _constant(),
    "chown": _constant(),
    "sync": _constant(),
    "kill": _constant(),
}
_SHELL_PROGRAMS = _SHELLS | _NETWORK_PROGRAMS | frozenset(_BUILTINS) | {"sleep", "exec"}
