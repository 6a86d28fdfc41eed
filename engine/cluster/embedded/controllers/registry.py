"""Every controller the embedded cluster runs, in start order."""

from __future__ import annotations

from ..rest import Api
from ..settings import ClusterSettings
from .base import Controller
from .garbage import GarbageCollector
from .namespaces import NamespaceController


def build_controllers(api: Api, settings: ClusterSettings) -> list[Controller]:
    controller_types: list[type[Controller]] = [
        NamespaceController,
        GarbageCollector,
    ]
    return [controller_type(api, settings) for controller_type in controller_types]
