"""Push pipelines, the "CI/CD" of the course: `.driftlab/pipeline.yaml` runs on each push to a lab's repo.

`PipelineRunner` (runner.py) takes the Git server's push events, queues and runs the pipelines and records
every run in a `PipelineStore` (store.py) that the CLI and the checks read from other processes.

The names below are loaded on first use: the lab's daemon must answer quickly, and reading the store (the CLI,
the checks) needs neither the pipeline file's model (pydantic) nor GitPython.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import PipelineError, PipelineFileError, Problem
    from .model import PIPELINE_FILE, Pipeline, load_pipeline
    from .runner import PipelineEvent, PipelineRunner, cancel_run
    from .store import FINISHED, RUN_STATUSES, LogLine, PipelineStore, Run, StepRecord, find_store, store_path

_HOMES = {
    "errors": ("PipelineError", "PipelineFileError", "Problem"),
    "model": ("PIPELINE_FILE", "Pipeline", "load_pipeline"),
    "runner": ("PipelineEvent", "PipelineRunner", "cancel_run"),
    "store": ("FINISHED", "RUN_STATUSES", "LogLine", "PipelineStore", "Run", "StepRecord", "find_store", "store_path"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "FINISHED",
    "PIPELINE_FILE",
    "RUN_STATUSES",
    "LogLine",
    "Pipeline",
    "PipelineError",
    "PipelineEvent",
    "PipelineFileError",
    "PipelineRunner",
    "PipelineStore",
    "Problem",
    "Run",
    "StepRecord",
    "cancel_run",
    "find_store",
    "load_pipeline",
    "store_path",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
