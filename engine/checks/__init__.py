"""Checks: what a course step expects of the cluster (and Git and pipelines), and the one evaluator of them.

- `spec`: the check kinds as pydantic models (the contract with courses).
- `evaluator.evaluate(checks, context) -> StepResult`: one pass; `watcher.CheckWatcher` and `watcher.wait`:
  the same evaluation driven by watches.
- `context.CheckContext`: the cluster to read (`kube.KubeReader` from a kubeconfig, or `memory.MemoryCluster`),
  the default namespace and the environment of command checks.
- `kinds/`: one pure judging function per kind; `results`: what the CLI and the TUI print.

Submodules are imported where they are used, so loading a course does not load the Kubernetes client.
"""
