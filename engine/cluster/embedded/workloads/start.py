"""Why a container cannot be created, checked in the kubelet's order: the pod's volumes (FailedMount), the
container's env (CreateContainerConfigError), runAsNonRoot against the image's user."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .access import as_map, as_text, pod_name, pod_namespace
from .environment import resolve_env
from .failures import ConfigProblem, config_error
from .sources import Lookup, Sources
from .volumes import volume_problem


def start_problem(
    container: Mapping[str, Any], pod: Mapping[str, Any], lookup: Lookup, image_user: str
) -> ConfigProblem | None:
    """The first problem that keeps the container from being created, or None; `image_user` is the image's
    USER (uid, uid:gid or a name)."""
    problem = volume_problem(pod, lookup)
    if problem is not None:
        return problem
    _, problem = resolve_env(container, pod, Sources(lookup, pod_namespace(pod)))
    if problem is not None:
        return problem
    return _non_root_problem(container, pod, image_user)


def _non_root_problem(container: Mapping[str, Any], pod: Mapping[str, Any], image_user: str) -> ConfigProblem | None:
    pod_context = as_map(as_map(pod.get("spec")).get("securityContext"))
    own = as_map(container.get("securityContext"))
    non_root = own.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if non_root is not True:
        return None
    meta = as_map(pod.get("metadata"))
    where = (
        f'(pod: "{pod_name(pod)}_{pod_namespace(pod)}({as_text(meta.get("uid"))})", '
        f"container: {as_text(container.get('name'))})"
    )
    run_as = own.get("runAsUser", pod_context.get("runAsUser"))
    if isinstance(run_as, int) and not isinstance(run_as, bool):
        return config_error(f"container's runAsUser breaks non-root policy {where}") if run_as == 0 else None
    user = image_user.split(":", 1)[0] or "0"
    if not user.isdigit():
        return config_error(
            f"container has runAsNonRoot and image has non-numeric user ({user}), "
            "cannot verify user is non-root " + where
        )
    if int(user) == 0:
        return config_error(f"container has runAsNonRoot and image will run as root {where}")
    return None
