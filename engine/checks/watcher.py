"""Watch-driven evaluation: re-run a step's checks when what they read changes, and report only changes.

`CheckWatcher` opens one watch per distinct read the checks make (their targets, the kubectl calls of command
checks, the objects a CEL check lists) and re-evaluates after the last of a burst of events has been quiet for
`debounce` seconds, but never later than `max_delay` after the first. `on_result` is called, on the watcher's
own thread, only when the results differ from the last ones it was given.

Nothing is polled where a watch exists. Two timers remain, each for something no watch can see:
- command checks may read anything (logs, HTTP answers, Git, files), so they are re-run on every watched
  change and otherwise every `command_interval` seconds;
- git and pipeline checks read the lab's Git server and pipeline runner, which live in the lab's daemon, a
  process of their own whose pushes and runs reach no Kubernetes watch: they are re-evaluated on the same
  timer, and on every watched change too (every evaluation judges all checks);
- while the API cannot be reached the plan of what to watch is retried every `retry_interval` seconds (a kind
  that is not served yet waits on a watch of CustomResourceDefinitions instead).

Each watch lists before it watches and re-lists after any error (a daemon restart, an expired resource
version), and every (re)list triggers an evaluation, so no change made while it was away is missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from .context import CheckContext
from .evaluator import Plan, evaluate, plan
from .reader import Expired, Read, ReadError, WatchStream
from .results import StepResult
from .spec import Check

log = logging.getLogger(__name__)

DEBOUNCE = 0.1
MAX_DELAY = 0.5
COMMAND_INTERVAL = 5.0
RETRY_INTERVAL = 1.0
INITIAL_LIST_WAIT = 2.0
_BACKOFF_START = 0.1
_BACKOFF_MAX = 2.0


class CheckWatcher:
    """Keeps a step's results current from watch events. Use as a context manager, or start() and stop()."""

    def __init__(
        self,
        checks: Sequence[Check],
        context: CheckContext,
        on_result: Callable[[StepResult], None],
        *,
        debounce: float = DEBOUNCE,
        max_delay: float = MAX_DELAY,
        command_interval: float = COMMAND_INTERVAL,
        retry_interval: float = RETRY_INTERVAL,
    ) -> None:
        self.checks = list(checks)
        self.context = context
        self.on_result = on_result
        self.debounce = debounce
        self.max_delay = max_delay
        self.command_interval = command_interval
        self.retry_interval = retry_interval
        self.latest: StepResult | None = None
        self.evaluations = 0
        self.triggers = 0
        self._cond = threading.Condition()
        self._stopped = threading.Event()
        self._dirty = False
        self._first_event: float | None = None
        self._last_event = 0.0
        self._timer_at: float | None = None
        self._loops: dict[Read, WatchLoop] = {}
        self._crds_watched = False
        self._thread: threading.Thread | None = None

    # Life cycle -------------------------------------------------------------------------------------------

    def start(self) -> CheckWatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="check-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()
        for loop in list(self._loops.values()):
            loop.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for loop in list(self._loops.values()):
            loop.join()
        self._loops.clear()

    def __enter__(self) -> CheckWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What the scheduler waits for -------------------------------------------------------------------------

    def trigger(self) -> None:
        """Ask for a re-evaluation (watch events call this; so may a "check now" key)."""
        now = time.monotonic()
        with self._cond:
            self.triggers += 1
            self._dirty = True
            self._last_event = now
            if self._first_event is None:
                self._first_event = now
            self._cond.notify_all()

    @property
    def watched(self) -> list[Read]:
        """The reads being watched right now."""
        return list(self._loops)

    @property
    def timer_due(self) -> float | None:
        """When the next timed re-evaluation is due (monotonic seconds), or None when nothing is timed."""
        return self._timer_at

    def _run(self) -> None:
        """Open the watches, evaluate once they all listed, then evaluate whenever something is due."""
        self._replan(initial=True)
        deadline = time.monotonic() + INITIAL_LIST_WAIT
        for loop in list(self._loops.values()):
            loop.listed.wait(max(deadline - time.monotonic(), 0))
        if self._stopped.is_set():
            return
        self._evaluate_once()
        while self._wait_until_due():
            self._evaluate_once()

    def _wait_until_due(self) -> bool:
        with self._cond:
            while not self._stopped.is_set():
                now = time.monotonic()
                if self._timer_at is not None and now >= self._timer_at:
                    self._timer_at = None
                    self._dirty = True
                    self._first_event = self._first_event or now
                if self._dirty:
                    first = self._first_event or now
                    due = min(self._last_event + self.debounce, first + self.max_delay)
                    if now >= due:
                        self._dirty = False
                        self._first_event = None
                        return True
                    self._cond.wait(due - now)
                    continue
                timeout = None if self._timer_at is None else max(self._timer_at - now, 0)
                self._cond.wait(timeout)
            return False

    def _evaluate_once(self) -> None:
        result = evaluate(self.checks, self.context)
        self.evaluations += 1
        current = self._replan()
        with self._cond:
            if current is None:
                self._timer_at = time.monotonic() + self.retry_interval
            elif current.commands or current.lab_state:
                self._timer_at = time.monotonic() + self.command_interval
            elif current.unresolved and not self._crds_watched:
                self._timer_at = time.monotonic() + self.retry_interval
            else:
                self._timer_at = None
        if result != self.latest and not self._stopped.is_set():
            self.latest = result
            try:
                self.on_result(result)
            except Exception:
                log.exception("a check watcher callback failed")

    def _replan(self, initial: bool = False) -> Plan | None:
        """Watch exactly what the checks read now; None when the API cannot be reached."""
        try:
            current = plan(self.checks, self.context)
        except ReadError:
            return None
        reads = set(current.reads)
        self._crds_watched = False
        if current.unresolved:
            try:
                crds = self.context.reader.resolve("customresourcedefinitions", "apiextensions.k8s.io/v1")
                reads.add(Read(crds, None))
                self._crds_watched = True
            except ReadError:
                pass
        for read in [r for r in self._loops if r not in reads]:
            self._loops.pop(read).stop()
        for read in reads:
            if read not in self._loops and not self._stopped.is_set():
                loop = WatchLoop(read, self.context, self.trigger, quiet_first_list=initial)
                self._loops[read] = loop
                loop.start()
        return current


class WatchLoop:
    """One watch, kept open: list, watch from that version, and after any failure list again.

    `trigger` is called after every (re)list and every event but bookmarks (with `quiet_first_list`, not after
    the first list). Shared by CheckWatcher and the lab panel's feeds (engine.lab.feeds)."""

    def __init__(self, read: Read, context: CheckContext, trigger: Callable[[], None], quiet_first_list: bool) -> None:
        self.read = read
        self.context = context
        self.trigger = trigger
        self.listed = threading.Event()
        self._quiet = quiet_first_list
        self._stopped = threading.Event()
        self._stream: WatchStream | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"watch {read.describe()}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    def join(self) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        reader = self.context.reader
        version: str | None = None
        backoff = _BACKOFF_START
        while not self._stopped.is_set():
            try:
                if version is None:
                    version = reader.list_version(self.read)
                    if not (self._quiet and not self.listed.is_set()):
                        self.trigger()
                    self.listed.set()
                version = self._follow(reader.watch(self.read, version), version)
                backoff = _BACKOFF_START
            except Expired:
                version = None
            except ReadError:
                version = None
                self.listed.set()
                self.trigger()
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            except Exception:
                log.exception("watch of %s failed", self.read.describe())
                version = None
                self.listed.set()
                self._stopped.wait(_BACKOFF_MAX)

    def _follow(self, stream: WatchStream, version: str) -> str:
        """Read events until the stream ends; returns the last resource version seen."""
        with self._lock:
            self._stream = stream
        if self._stopped.is_set():
            stream.close()
        try:
            for event in stream:
                if self._stopped.is_set():
                    break
                version = event.resource_version or version
                if event.type != "BOOKMARK":
                    self.trigger()
        finally:
            with self._lock:
                self._stream = None
            stream.close()
        return version


def wait(
    checks: Iterable[Check],
    context: CheckContext,
    timeout: float | None = None,
    *,
    on_result: Callable[[StepResult], None] | None = None,
    debounce: float = DEBOUNCE,
) -> StepResult:
    """Results once every check passes, or once each failing check has had its time.

    A check may take `timeout` seconds when given, else its own `timeout` (a group: the longest inside it).
    Driven by a CheckWatcher, so it returns as soon as a change makes everything pass.
    """
    items = list(checks)
    limits = [timeout if timeout is not None else _limit(check) for check in items]
    start = time.monotonic()
    cond = threading.Condition()
    latest: list[StepResult] = []

    def got(result: StepResult) -> None:
        if on_result is not None:
            on_result(result)
        with cond:
            latest.append(result)
            cond.notify_all()

    with CheckWatcher(items, context, got, debounce=debounce), cond:
        while True:
            elapsed = time.monotonic() - start
            if latest:
                result = latest[-1]
                if result.passed:
                    return result
                open_limits = [
                    limit
                    for item, limit in zip(result.results, limits, strict=False)
                    if item.passed is not True and elapsed < limit
                ]
                if not open_limits:
                    return result
                cond.wait(max(open_limits) - elapsed)
            else:
                cond.wait(0.5)


def _limit(check: Check) -> float:
    children = (check.all if check.kind == "all" else check.any if check.kind == "any" else None) or []
    return max([check.timeout, *(_limit(child) for child in children)])
