"""The simulated node agent of the embedded cluster: the scheduler and the kubelet of the one node.

`Scheduler` binds new pods to the node; `Kubelet` runs them (pulls, starts, probes, restarts, logs, graceful
shutdown) from the image catalogue. `node_runtime(api)` is the node's state that other parts read: container
logs (`NodeRuntime.logs`) and the running containers behind pod IPs (`NodeRuntime.instance_at`).
"""

from .kubelet import Kubelet
from .logs import LogQuery, LogStore
from .runtime import Instance, NodeRuntime, node_runtime
from .scheduler import Scheduler

__all__ = ["Instance", "Kubelet", "LogQuery", "LogStore", "NodeRuntime", "Scheduler", "node_runtime"]
