"""CronJobs: Jobs created on a cron schedule, with the real controller's bookkeeping.

Schedules are read as the real controller reads them (the standard five fields with names, ranges, steps and
`?`, the `@hourly`-style descriptors, `@every <duration>`, `TZ=`/`CRON_TZ=` prefixes and `spec.timeZone`).
The controller never polls: after each pass it sets a timer for the next scheduled time. A Job for the
schedule at minute M is named `<cronjob>-<M as minutes since the epoch>`, so one schedule never runs twice.
`now` is injectable (a callable) so the schedule arithmetic can be tested without waiting.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ....errors import DriftlabError
from .. import clock
from ..events import EventRecorder
from ..rest import Api, WriteOptions
from ..settings import ClusterSettings
from ..status import ApiError
from . import podutil
from .base import Controller
from .jobs import job_condition
from .statefulsets import int_field, owner_key

Obj = dict[str, Any]
Key = tuple[str, str]

MANAGER = "kube-controller-manager"
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
CRONJOBS = "batch/cronjobs"
JOBS = "batch/jobs"
NEXT_SCHEDULE_DELTA = 0.1  # seconds after the scheduled time the controller looks again, as the real one
MANY_MISSED = 100
YEARS_AHEAD = 5

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, {name: number for number, name in enumerate(_MONTHS, start=1)}),
    (0, 6, {name: number for number, name in enumerate(_WEEKDAYS)}),
)
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")


class ScheduleError(DriftlabError):
    """A schedule the cron parser of the real controller rejects; the message is that parser's."""


# ---------------------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the allowed values of each field, or a constant interval (`@every`)."""

    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    any_day: bool = False  # day of month was `*` or `?`
    any_weekday: bool = False
    every: timedelta | None = None
    zone: tzinfo = UTC

    def next_after(self, moment: datetime) -> datetime | None:
        """The first scheduled time strictly after `moment` (UTC), or None within the next five years."""
        if self.every is not None:
            return moment.replace(microsecond=0) + self.every
        local = moment.astimezone(self.zone).replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
        limit = local.year + YEARS_AHEAD
        while local.year <= limit:
            if local.month not in self.months:
                local = _next_month(local)
            elif not self._day_matches(local):
                local = datetime(local.year, local.month, local.day) + timedelta(days=1)
            elif local.hour not in self.hours:
                local = local.replace(minute=0) + timedelta(hours=1)
            elif local.minute not in self.minutes:
                local += timedelta(minutes=1)
            else:
                found = local.replace(tzinfo=self.zone)
                # A wall-clock time skipped by a daylight-saving change does not exist: move on.
                if found.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) == local and found > moment:
                    return found.astimezone(UTC)
                local += timedelta(minutes=1)
        return None

    def _day_matches(self, day: datetime) -> bool:
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week


def _next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1)


def load_zone(name: str) -> tzinfo:
    """A time zone by IANA name, as Go's time.LoadLocation reads it ('' and 'UTC' are UTC)."""
    if name in ("", "UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ScheduleError(f"unknown time zone {name}") from err


def parse_schedule(text: str, time_zone: str | None = None) -> Schedule:
    """Parse a CronJob schedule; `time_zone` is `spec.timeZone` (a `TZ=` prefix in the schedule wins)."""
    spec = text.strip()
    zone = time_zone or ""
    if spec.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, spec = spec.partition(" ")
        zone = prefix.split("=", 1)[1]
        spec = spec.strip()
        try:
            location = load_zone(zone)
        except ScheduleError as err:
            raise ScheduleError(f"provided bad location {zone}: {err}") from err
    else:
        location = load_zone(zone)
    if spec.startswith("@every "):
        return Schedule(every=_every(spec[len("@every ") :].strip(), spec), zone=location)
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    values, stars = [], []
    for field_text, (low, high, names) in zip(fields, _FIELDS, strict=True):
        allowed, star = _field(field_text, low, high, names)
        values.append(frozenset(allowed))
        stars.append(star)
    return Schedule(*values, any_day=stars[2], any_weekday=stars[4], zone=location)


def _field(text: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    allowed: set[int] = set()
    star = False
    for part in text.split(","):
        values, part_star = _range(part, low, high, names)
        allowed |= values
        star = star or part_star
    return allowed, star


def _range(expr: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    range_and_step = expr.split("/")
    bounds = range_and_step[0].split("-")
    single = len(bounds) == 1
    star = False
    if bounds[0] in ("*", "?"):
        start, end, star = low, high, True
    else:
        start = _number(bounds[0], names, expr)
        if len(bounds) == 1:
            end = start
        elif len(bounds) == 2:
            end = _number(bounds[1], names, expr)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _number(range_and_step[1], {}, expr)
        if single:
            end = high
        if step > 1:
            star = False
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < low:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise ScheduleError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _number(text: str, names: dict[str, int], expr: str) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not re.fullmatch(r"-?[0-9]+", text):
        raise ScheduleError(f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax")
    number = int(text)
    if number < 0:
        raise ScheduleError(f"negative number ({number}) not allowed: {expr}")
    return number


def _every(text: str, spec: str) -> timedelta:
    """`@every 1h30m`: a Go duration, at least one second, whole seconds."""
    if not text or _DURATION_PART.sub("", text) != "":
        raise ScheduleError(f"failed to parse duration {spec}: time: invalid duration {text!r}")
    seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text))
    return timedelta(seconds=max(1, int(seconds)))


def most_recent_unmet(schedule: Schedule, earliest: datetime, now: datetime) -> tuple[datetime | None, int]:
    """The latest scheduled time in (earliest, now] and roughly how many were missed, as the real
    controller estimates it (the count only decides whether to warn)."""
    first = schedule.next_after(earliest)
    if first is None or now < first:
        return None, 0
    second = schedule.next_after(first)
    if second is None or now < second:
        return first, 1
    gap = round((second - first).total_seconds())
    if gap < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed = int((now - first).total_seconds()) // gap + 1
    moment: datetime | None = first + timedelta(seconds=(missed - 2) * gap)
    latest: datetime | None = None
    while moment is not None and moment <= now:
        moment = schedule.next_after(moment)
        if moment is not None and moment <= now:
            latest = moment
    return latest or first, missed


def job_name(cronjob: str, scheduled: datetime) -> str:
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def _rfc3339(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    text = local.strftime("%Y-%m-%dT%H:%M:%S%z")
    if text.endswith("+0000") and zone is UTC:
        return text[:-5] + "Z"
    return text[:-2] + ":" + text[-2:]


# ---------------------------------------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Pass:
    """One reconcile of a CronJob: its status being rebuilt, and when to look again."""

    cronjob: Obj
    status: Obj
    now: datetime
    requeue: float | None = None

    @property
    def active(self) -> list[Obj]:
        return self.status.setdefault("active", [])


class CronJobController(Controller):
    name = "cronjob-controller"

    def __init__(
        self, api: Api, settings: ClusterSettings | None = None, now: Callable[[], datetime] = clock.now
    ) -> None:
        super().__init__(api, settings)
        cronjobs = api.catalog.lookup("batch", "v1", "cronjobs")
        jobs = api.catalog.lookup("batch", "v1", "jobs")
        assert cronjobs is not None and jobs is not None
        self._cronjobs, self._jobs = cronjobs, jobs
        self.now = now
        self._events = EventRecorder(api, "cronjob-controller")
        self._opts = WriteOptions(field_manager=MANAGER)

    def start(self) -> None:
        for item in self.api.list(self._cronjobs, None).items:
            self.enqueue((item["metadata"]["namespace"], item["metadata"]["name"]))

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource == CRONJOBS:
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        if resource == JOBS:
            return list({key for key in (owner_key(obj, "CronJob"), owner_key(old, "CronJob")) if key})
        return []

    def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        cronjob = self.api.find(self._cronjobs, *key)
        if cronjob is None:
            return
        jobs = [
            job
            for job in self.api.list(self._jobs, cronjob["metadata"]["namespace"]).items
            if podutil.is_controlled_by(job, cronjob)
        ]
        state = _Pass(cronjob, copy.deepcopy(cronjob.get("status") or {}), self.now())
        self._track_jobs(state, jobs)
        self._schedule(state)
        self._clean_up(state, jobs)
        self._write_status(state)
        if state.requeue is not None:
            self.enqueue_after(key, state.requeue)

    # Bookkeeping ----------------------------------------------------------------------------------------

    def _track_jobs(self, state: _Pass, jobs: list[Obj]) -> None:
        uids = {job["metadata"]["uid"] for job in jobs}
        for job in jobs:
            uid, name = job["metadata"]["uid"], job["metadata"]["name"]
            found = any(ref.get("uid") == uid for ref in state.active)
            finished = _finished_type(job)
            if not found and finished is None:
                self._event(
                    state, "Warning", "UnexpectedJob", f"Saw a job that the controller did not create or forgot: {name}"
                )
            elif finished is not None:
                if found:
                    self._forget(state, uid)
                    self._event(state, "Normal", "SawCompletedJob", f"Saw completed job: {name}, condition: {finished}")
                completed = (job.get("status") or {}).get("completionTime")
                if finished == "Complete" and completed:
                    last = state.status.get("lastSuccessfulTime")
                    if not last or clock.parse(completed) > clock.parse(last):
                        state.status["lastSuccessfulTime"] = completed
        for ref in list(state.active):
            if ref.get("uid") in uids:
                continue
            if self.api.find(self._jobs, state.cronjob["metadata"]["namespace"], str(ref.get("name", ""))) is None:
                self._event(state, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                self._forget(state, str(ref.get("uid", "")))

    @staticmethod
    def _forget(state: _Pass, uid: str) -> None:
        state.status["active"] = [ref for ref in state.active if ref.get("uid") != uid]

    def _event(self, state: _Pass, kind: str, reason: str, message: str) -> None:
        self._events.record(state.cronjob, kind, reason, message)

    # Scheduling -----------------------------------------------------------------------------------------

    def _schedule(self, state: _Pass) -> None:
        cronjob = state.cronjob
        spec = cronjob.get("spec") or {}
        if cronjob["metadata"].get("deletionTimestamp"):
            return
        time_zone = spec.get("timeZone")
        if time_zone is not None:
            try:
                load_zone(str(time_zone))
            except ScheduleError as err:
                self._event(state, "Warning", "UnknownTimeZone", f'invalid timeZone: "{time_zone}": {err}')
                return
        if spec.get("suspend") is True:
            return
        text = str(spec.get("schedule", ""))
        if "TZ" in text:
            self._event(
                state,
                "Warning",
                "UnsupportedSchedule",
                f'CRON_TZ or TZ used in schedule "{text}" is not officially supported, see '
                "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
            )
        try:
            schedule = parse_schedule(text, None if "TZ" in text else time_zone)
            scheduled = self._unmet(state, schedule)
        except ScheduleError as err:
            self._event(state, "Warning", "UnparseableSchedule", f'unparseable schedule: "{text}" : {err}')
            return
        state.requeue = self._next_delay(state, schedule)
        if scheduled is None:
            return
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int) and scheduled + timedelta(seconds=deadline) < state.now:
            missed = scheduled.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
            self._event(state, "Warning", "MissSchedule", f"Missed scheduled time to start a job: {missed}")
            return
        name = job_name(cronjob["metadata"]["name"], scheduled)
        last = state.status.get("lastScheduleTime")
        if any(ref.get("name") == name for ref in state.active) or (last and clock.parse(last) == scheduled):
            return
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and state.active:
            self._event(
                state,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            return
        if policy == "Replace":
            for ref in list(state.active):
                job = self.api.find(self._jobs, cronjob["metadata"]["namespace"], str(ref.get("name", "")))
                if job is not None:
                    self._delete_job(state, job)
        job = self._create_job(state, scheduled, name)
        if job is None:
            return
        state.active.append(_reference(job))
        state.status["lastScheduleTime"] = clock.stamp(scheduled)

    def _unmet(self, state: _Pass, schedule: Schedule) -> datetime | None:
        spec = state.cronjob.get("spec") or {}
        earliest = self._earliest(state)
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int):
            earliest = max(earliest, state.now - timedelta(seconds=deadline))
        scheduled, missed = most_recent_unmet(schedule, earliest, state.now)
        if missed > MANY_MISSED:
            self._event(
                state,
                "Warning",
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        return scheduled

    def _earliest(self, state: _Pass) -> datetime:
        last = state.status.get("lastScheduleTime") or state.cronjob["metadata"].get("creationTimestamp")
        return clock.parse(last) if last else state.now

    def _next_delay(self, state: _Pass, schedule: Schedule) -> float | None:
        earliest = self._earliest(state)
        recent, _ = most_recent_unmet(schedule, earliest, state.now)
        following = schedule.next_after(recent or earliest)
        if following is None:
            return None
        return max(0.0, (following - state.now).total_seconds()) + NEXT_SCHEDULE_DELTA

    def _create_job(self, state: _Pass, scheduled: datetime, name: str) -> Obj | None:
        cronjob = state.cronjob
        spec = cronjob.get("spec") or {}
        template = spec.get("jobTemplate") or {}
        template_meta = template.get("metadata") or {}
        annotations = dict(template_meta.get("annotations") or {})
        time_zone = spec.get("timeZone")
        annotations[SCHEDULED_ANNOTATION] = _rfc3339(scheduled, load_zone(str(time_zone or "")))
        body: Obj = {
            "metadata": {
                "name": name,
                "namespace": cronjob["metadata"]["namespace"],
                "annotations": annotations,
                "ownerReferences": [podutil.controller_ref(cronjob)],
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        if template_meta.get("labels"):
            body["metadata"]["labels"] = dict(template_meta["labels"])
        try:
            job, _ = self.api.create(self._jobs, cronjob["metadata"]["namespace"], body, self._opts)
        except ApiError as err:
            if err.code == 409:
                existing = self.api.find(self._jobs, cronjob["metadata"]["namespace"], name)
                if existing is None or not podutil.is_controlled_by(existing, cronjob):
                    return None
                if any(ref.get("uid") == existing["metadata"]["uid"] for ref in state.active):
                    return None
                return existing
            if err.code != 403:
                self._event(state, "Warning", "FailedCreate", f"Error creating job: {err.message}")
            raise
        self._event(state, "Normal", "SuccessfulCreate", f"Created job {name}")
        return job

    def _delete_job(self, state: _Pass, job: Obj) -> bool:
        meta = job["metadata"]
        try:
            self.api.delete(self._jobs, meta["namespace"], meta["name"], {"propagationPolicy": "Background"})
        except ApiError as err:
            if err.code != 404:
                self._event(state, "Warning", "FailedDelete", f"Deleted job: {err.message}")
                return False
        self._forget(state, meta["uid"])
        self._event(state, "Normal", "SuccessfulDelete", f"Deleted job {meta['name']}")
        return True

    # History and status ---------------------------------------------------------------------------------

    def _clean_up(self, state: _Pass, jobs: list[Obj]) -> None:
        spec = state.cronjob.get("spec") or {}
        for kind, limit_field, default in (
            ("Complete", "successfulJobsHistoryLimit", 3),
            ("Failed", "failedJobsHistoryLimit", 1),
        ):
            finished = sorted((job for job in jobs if _finished_type(job) == kind), key=_start_order)
            surplus = len(finished) - int_field(spec, limit_field, default)
            for job in finished[: max(0, surplus)]:
                self._delete_job(state, job)

    def _write_status(self, state: _Pass) -> None:
        status = state.status
        if not status.get("active"):
            status.pop("active", None)
        if status != (state.cronjob.get("status") or {}):
            body = copy.deepcopy(state.cronjob)
            body["status"] = status
            meta = state.cronjob["metadata"]
            self.api.update(self._cronjobs, meta["namespace"], meta["name"], body, self._opts, subresource="status")


def _finished_type(job: Obj) -> str | None:
    for kind in ("Complete", "Failed"):
        if job_condition(job, kind) is not None:
            return kind
    return None


def _start_order(job: Obj) -> tuple[int, str, str]:
    started = (job.get("status") or {}).get("startTime")
    return (0 if started else 1, str(started or ""), job["metadata"]["name"])


def _reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {
        "kind": "Job",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": "batch/v1",
        "resourceVersion": meta.get("resourceVersion", ""),
    }
