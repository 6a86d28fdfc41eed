"""The catalogue: repositories by normalised name, and what pulling an image reference gives."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import InvalidImageReference
from .failures import PullFailure
from .image import ImageBehaviour
from .model import GENERIC_BEHAVIOUR, Behaviour, Repository
from .references import ImageReference, derived_digest, parse_image_reference


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
            digest = reference.digest or derived_digest(reference.name, reference.effective_tag)
            return ImageBehaviour(image, reference, GENERIC_BEHAVIOUR, digest, tag=None, known=False)
        tag = _matching_tag(repository, reference)
        if tag is None:
            if not repository.has_unlisted(None if reference.digest else reference.effective_tag):
                return PullFailure.not_found(image, reference)
            digest = reference.digest or derived_digest(reference.name, reference.effective_tag)
            return ImageBehaviour(image, reference, self._behaviour(repository, None), digest, tag=None)
        target = repository.target(tag)
        behaviour = self._behaviour(repository, target)
        return ImageBehaviour(image, reference, behaviour, repository.digest_of(target), tag=target)

    def _behaviour(self, repository: Repository, tag: str | None) -> Behaviour:
        key = (repository.key, tag)
        behaviour = self._behaviours.get(key)
        if behaviour is None:
            behaviour = self._behaviours[key] = repository.behaviour(tag)
        return behaviour


def _matching_tag(repository: Repository, reference: ImageReference) -> str | None:
    """The listed tag a reference pulls: by digest, or by (effective) tag."""
    if reference.digest is not None:
        return next((tag for tag in repository.tags if repository.digest_of(tag) == reference.digest), None)
    tag = reference.effective_tag
    return tag if tag in repository.tags else None
