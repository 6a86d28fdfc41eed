"""What `driftlab pipeline ...` prints, and how it follows a run that another process (the lab's daemon) runs."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from .store import RUNNER, LogLine, PipelineStore, Run

POLL_INTERVAL = 0.2  # seconds; short enough that a followed log reads as live


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m{rest:02d}s"


def _clock(moment: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment is not None else "-"


def _duration(run: Run, now: float) -> str:
    if run.duration is not None:
        return format_seconds(run.duration)
    if run.started_at is not None and not run.finished:
        return format_seconds(now - run.started_at)
    return "-"


def runs_table(runs: Sequence[Run], now: float | None = None) -> list[str]:
    """The runs as aligned columns, with a header (what `driftlab pipeline runs` prints)."""
    moment = time.time() if now is None else now
    rows = [("ID", "REPO", "BRANCH", "COMMIT", "STATUS", "DURATION", "STARTED")]
    rows += [
        (str(r.id), r.repo, r.branch, r.short_commit, r.status, _duration(r, moment), _clock(r.started_at))
        for r in runs
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def log_text(line: LogLine) -> str:
    """A log line with the time it was written; the runner's own lines are marked with `|` after the time."""
    stamp = time.strftime("%H:%M:%S", time.localtime(line.time)) + f".{int(line.time * 1000) % 1000:03d}"
    return f"{stamp} {'|' if line.stream == RUNNER else ' '} {line.text}"


def follow(store: PipelineStore, run_id: int, interval: float = POLL_INTERVAL) -> Iterator[LogLine]:
    """A run's log lines as they are written, until the run ends.

    The runner lives in another process (the lab's daemon), so there is no event to wait on here: this reads
    the store again every `interval` seconds. In the runner's own process, PipelineRunner.follow needs none.
    """
    last = 0
    while True:
        finished = store.run(run_id).finished
        for line in store.lines(run_id, after=last):
            last = line.id
            yield line
        if finished:
            return
        time.sleep(interval)


def wait_finished(store: PipelineStore, run_id: int, timeout: float, interval: float = POLL_INTERVAL) -> Run:
    """The run once it has ended, or as it is after `timeout` seconds (polling: the runner is elsewhere)."""
    deadline = time.monotonic() + timeout
    run = store.run(run_id)
    while not run.finished and time.monotonic() < deadline:
        time.sleep(interval)
        run = store.run(run_id)
    return run
