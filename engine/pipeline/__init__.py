"""Push pipelines, the "CI/CD" of the course: `.driftlab/pipeline.yaml` runs on each push to a lab's repo.

`PipelineRunner` (runner.py) takes the Git server's push events, queues and runs the pipelines and records
every run in a `PipelineStore` (store.py) that the CLI and the checks read from other processes.
"""

from .errors import PipelineError, PipelineFileError, Problem
from .model import PIPELINE_FILE, Pipeline, load_pipeline
from .runner import PipelineEvent, PipelineRunner, cancel_run
from .store import FINISHED, RUN_STATUSES, LogLine, PipelineStore, Run, StepRecord, find_store, store_path

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
