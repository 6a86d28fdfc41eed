"""The Deployment controller, split by job: sync (new ReplicaSet, scaling, pausing), rolling and recreate
(the strategies), progress (status and conditions), history (revisions and clean-up), hashing
(pod-template-hash), replicas (surge arithmetic and orderings) and client (writes, events, timers)."""

from .controller import DeploymentController

__all__ = ["DeploymentController"]
