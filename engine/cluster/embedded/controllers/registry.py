"""Every controller the embedded cluster runs, in start order."""

from __future__ import annotations

from ..kubelet import Kubelet, Scheduler
from ..rest import Api
from ..settings import ClusterSettings
from .base import Controller
from .cronjobs import CronJobController
from .daemonsets import DaemonSetController
from .deployments import DeploymentController
from .endpoints import EndpointsController
from .garbage import GarbageCollector
from .jobs import JobController
from .namespaces import NamespaceController
from .nodes import NodeController
from .replicasets import ReplicaSetController
from .statefulsets import StatefulSetController


def build_controllers(api: Api, settings: ClusterSettings) -> list[Controller]:
    controller_types: list[type[Controller]] = [
        NamespaceController,
        NodeController,
        Scheduler,
        Kubelet,
        GarbageCollector,
        DeploymentController,
        ReplicaSetController,
        EndpointsController,
        StatefulSetController,
        DaemonSetController,
        JobController,
        CronJobController,
    ]
    return [controller_type(api, settings) for controller_type in controller_types]
