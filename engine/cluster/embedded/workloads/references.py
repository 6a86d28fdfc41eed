"""Image references, parsed and normalised like github.com/distribution/reference (ParseNormalizedNamed)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .errors import InvalidImageReference

DEFAULT_TAG = "latest"
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
        check_digest(match[3])
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


def check_digest(digest: str) -> None:
    """Raise `InvalidImageReference` unless `digest` is `algorithm:hex` of a supported algorithm."""
    algorithm, _, encoded = digest.partition(":")
    size = _DIGEST_SIZES.get(algorithm)
    if size is None:
        raise InvalidImageReference("unsupported digest algorithm")
    if len(encoded) != size:
        raise InvalidImageReference("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidImageReference("invalid checksum digest format")


def is_tag(text: str) -> bool:
    """Whether `text` is a valid image tag."""
    return _TAG.fullmatch(text) is not None


def derived_digest(repository: str, tag: str | None) -> str:
    """A stable digest for a tag the catalogue does not pin, so imageID is the same on every run."""
    return "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
