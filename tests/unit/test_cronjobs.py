"""CronJob schedules (parsed as the real controller parses them) and the controller, driven by an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.cluster.embedded import clock
from engine.cluster.embedded.bootstrap import ensure_system_objects
from engine.cluster.embedded.controllers.cronjobs import (
    CronJobController,
    ScheduleError,
    job_name,
    most_recent_unmet,
    parse_schedule,
)
from engine.cluster.embedded.daemon import build_api
from engine.cluster.embedded.rest import Api, WriteOptions

OPTS = WriteOptions(field_manager="test")
Obj = dict[str, Any]
KEY = ("default", "tick")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def nexts(schedule: str, after: str, count: int = 3, zone: str | None = None) -> list[str]:
    parsed = parse_schedule(schedule, zone)
    moments: list[str] = []
    moment: datetime | None = at(after)
    for _ in range(count):
        assert moment is not None
        moment = parsed.next_after(moment)
        assert moment is not None
        moments.append(moment.strftime("%Y-%m-%d %H:%M"))
    return moments


# Schedules ---------------------------------------------------------------------------------------------------


def test_steps_ranges_and_lists() -> None:
    assert nexts("*/15 * * * *", "2026-03-02T10:07:30") == ["2026-03-02 10:15", "2026-03-02 10:30", "2026-03-02 10:45"]
    assert nexts("5,35 9-10 * * *", "2026-03-02T09:40:00") == [
        "2026-03-02 10:05",
        "2026-03-02 10:35",
        "2026-03-03 09:05",
    ]
    assert nexts("10/20 * * * *", "2026-03-02T10:00:00") == ["2026-03-02 10:10", "2026-03-02 10:30", "2026-03-02 10:50"]


def test_the_next_time_is_strictly_later() -> None:
    assert nexts("0 * * * *", "2026-03-02T10:00:00", 1) == ["2026-03-02 11:00"]


def test_names_and_weekdays() -> None:
    # 2026-03-06 is a Friday: the next weekday run is Monday.
    assert nexts("0 9 * * mon-fri", "2026-03-06T10:00:00", 2) == ["2026-03-09 09:00", "2026-03-10 09:00"]
    assert nexts("0 0 1 JAN,jul *", "2026-03-02T00:00:00", 2) == ["2026-07-01 00:00", "2027-01-01 00:00"]


def test_day_of_month_or_day_of_week() -> None:
    # Both restricted: either matches (the 13th, or any Friday), as in cron.
    assert nexts("0 0 13 * 5", "2026-03-01T00:00:00", 3) == ["2026-03-06 00:00", "2026-03-13 00:00", "2026-03-20 00:00"]
    # A star on one side: both must match.
    assert nexts("0 0 * * 5", "2026-03-01T00:00:00", 1) == ["2026-03-06 00:00"]
    assert nexts("0 0 13 * ?", "2026-03-01T00:00:00", 1) == ["2026-03-13 00:00"]


def test_descriptors_and_every() -> None:
    assert nexts("@hourly", "2026-03-02T10:07:00", 1) == ["2026-03-02 11:00"]
    assert nexts("@daily", "2026-03-02T10:07:00", 1) == ["2026-03-03 00:00"]
    assert nexts("@weekly", "2026-03-02T10:07:00", 1) == ["2026-03-08 00:00"]
    assert nexts("@monthly", "2026-03-02T10:07:00", 1) == ["2026-04-01 00:00"]
    assert nexts("@yearly", "2026-03-02T10:07:00", 1) == ["2027-01-01 00:00"]
    assert nexts("@every 1h30m", "2026-03-02T10:07:00", 2) == ["2026-03-02 11:37", "2026-03-02 13:07"]


def test_time_zones() -> None:
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    assert nexts("0 9 * * *", "2026-01-10T12:00:00", 1, zone="Europe/Berlin") == ["2026-01-11 08:00"]
    assert nexts("0 9 * * *", "2026-07-10T12:00:00", 1, zone="Europe/Berlin") == ["2026-07-11 07:00"]
    assert nexts("TZ=America/New_York 30 6 * * *", "2026-01-10T12:00:00", 1) == ["2026-01-11 11:30"]
    # 02:30 does not exist in Berlin on the day clocks go forward.
    assert nexts("30 2 * * *", "2026-03-28T12:00:00", 1, zone="Europe/Berlin") == ["2026-03-30 00:30"]


def test_impossible_dates_never_come() -> None:
    assert parse_schedule("0 0 30 2 *").next_after(at("2026-01-01T00:00:00")) is None


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("x * * * *", "failed to parse int from x"),
    ],
)
def test_bad_schedules(schedule: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(schedule)
    assert str(caught.value).startswith(message)


def test_unknown_time_zone() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone Mars/Olympus"):
        parse_schedule("* * * * *", "Mars/Olympus")


def test_most_recent_unmet_time() -> None:
    schedule = parse_schedule("*/15 * * * *")
    assert most_recent_unmet(schedule, at("2026-03-02T10:00:00"), at("2026-03-02T10:47:00")) == (
        at("2026-03-02T10:45:00"),
        3,
    )
    assert most_recent_unmet(schedule, at("2026-03-02T10:00:00"), at("2026-03-02T10:14:00")) == (None, 0)
    assert most_recent_unmet(schedule, at("2026-03-02T10:00:00"), at("2026-03-02T10:15:00")) == (
        at("2026-03-02T10:15:00"),
        1,
    )


def test_job_names_count_minutes() -> None:
    assert job_name("tick", at("2026-03-02T10:15:00")) == f"tick-{int(at('2026-03-02T10:15:00').timestamp()) // 60}"


# The controller --------------------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> Api:
    api = build_api(tmp_path)
    ensure_system_objects(api)
    return api


def rtype(api: Api, plural: str) -> Any:
    found = api.catalog.lookup("batch", "v1", plural)
    assert found is not None
    return found


def make_cronjob(api: Api, schedule: str = "*/5 * * * *", **spec: Any) -> Obj:
    body = {
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "metadata": {"labels": {"app": "tick"}},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "tick", "image": "busybox:1.37", "command": ["date"]}],
                        }
                    }
                },
            },
            **spec,
        },
    }
    cronjob, _ = api.create(rtype(api, "cronjobs"), "default", body, OPTS)
    return cronjob


class Clock:
    """A settable clock starting at the CronJob's creation."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def run(scenario: Callable[[], None]) -> None:
    """Controller timers need a running event loop."""

    async def main() -> None:
        scenario()

    asyncio.run(main())


def cronjob_of(api: Api) -> Obj:
    return api.get(rtype(api, "cronjobs"), "default", "tick")


def job_names(api: Api) -> list[str]:
    return sorted(j["metadata"]["name"] for j in api.list(rtype(api, "jobs"), "default").items)


def finish(api: Api, name: str, kind: str = "Complete", at_time: str | None = None) -> None:
    job = api.get(rtype(api, "jobs"), "default", name)
    stamp = at_time or clock.stamp()
    job["status"] = {
        "startTime": stamp,
        "conditions": [{"type": kind, "status": "True", "lastTransitionTime": stamp}],
    }
    if kind == "Complete":
        job["status"]["completionTime"] = stamp
    api.update(rtype(api, "jobs"), "default", name, job, OPTS, subresource="status")


def reasons(api: Api) -> list[str]:
    events = api.list(api.catalog.lookup("", "v1", "events"), "default").items
    return [e["reason"] for e in events if e["involvedObject"]["kind"] == "CronJob"]


def schedule_start(cronjob: Obj) -> datetime:
    """The first 5-minute mark after the CronJob was created."""
    created = clock.parse(cronjob["metadata"]["creationTimestamp"])
    return parse_schedule("*/5 * * * *").next_after(created) or created


def test_a_job_is_created_at_each_scheduled_time(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api)
        first = schedule_start(cronjob)
        now = Clock(first - timedelta(seconds=30))
        controller = CronJobController(api, now=now)
        controller.reconcile(KEY)
        assert job_names(api) == []
        now.advance(seconds=31)
        controller.reconcile(KEY)
        assert job_names(api) == [job_name("tick", first)]
        job = api.get(rtype(api, "jobs"), "default", job_name("tick", first))
        assert job["metadata"]["labels"]["app"] == "tick"
        assert job["metadata"]["ownerReferences"][0]["uid"] == cronjob["metadata"]["uid"]
        assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == (
            first.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        status = cronjob_of(api)["status"]
        assert status["lastScheduleTime"] == clock.stamp(first)
        assert [ref["name"] for ref in status["active"]] == [job["metadata"]["name"]]
        controller.reconcile(KEY)  # the same scheduled time never runs twice
        assert len(job_names(api)) == 1
        assert "SuccessfulCreate" in reasons(api)

    run(scenario)


def test_finished_jobs_leave_the_active_list_and_record_success(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api)
        now = Clock(schedule_start(cronjob) + timedelta(seconds=1))
        controller = CronJobController(api, now=now)
        controller.reconcile(KEY)
        [name] = job_names(api)
        finish(api, name, at_time="2030-01-01T00:00:00Z")
        controller.reconcile(KEY)
        status = cronjob_of(api)["status"]
        assert "active" not in status
        assert status["lastSuccessfulTime"] == "2030-01-01T00:00:00Z"
        assert "SawCompletedJob" in reasons(api)

    run(scenario)


def test_a_manually_created_job_counts_for_last_successful_time(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api, suspend=True)
        controller = CronJobController(api)
        manual = {
            "metadata": {
                "name": "tick-manual",
                "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": "tick",
                        "uid": cronjob["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": cronjob["spec"]["jobTemplate"]["spec"],
        }
        job, _ = api.create(rtype(api, "jobs"), "default", manual, OPTS)
        assert controller.keys_for("batch/jobs", "ADDED", job, None) == [KEY]
        controller.reconcile(KEY)
        assert "UnexpectedJob" in reasons(api)
        finish(api, "tick-manual", at_time="2030-01-01T00:00:00Z")
        controller.reconcile(KEY)
        assert cronjob_of(api)["status"]["lastSuccessfulTime"] == "2030-01-01T00:00:00Z"
        assert job_names(api) == ["tick-manual"]  # suspended: nothing scheduled

    run(scenario)


def test_forbid_skips_a_run_while_one_is_active(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api, concurrencyPolicy="Forbid")
        now = Clock(schedule_start(cronjob) + timedelta(seconds=1))
        controller = CronJobController(api, now=now)
        controller.reconcile(KEY)
        now.advance(minutes=5)
        controller.reconcile(KEY)
        assert len(job_names(api)) == 1
        assert "JobAlreadyActive" in reasons(api)

    run(scenario)


def test_replace_deletes_the_running_job(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api, concurrencyPolicy="Replace")
        first = schedule_start(cronjob)
        now = Clock(first + timedelta(seconds=1))
        controller = CronJobController(api, now=now)
        controller.reconcile(KEY)
        now.advance(minutes=5)
        controller.reconcile(KEY)
        remaining = [
            j for j in api.list(rtype(api, "jobs"), "default").items if not j["metadata"].get("deletionTimestamp")
        ]
        assert [j["metadata"]["name"] for j in remaining] == [job_name("tick", first + timedelta(minutes=5))]
        assert [ref["name"] for ref in cronjob_of(api)["status"]["active"]] == [remaining[0]["metadata"]["name"]]

    run(scenario)


def test_allow_runs_concurrently(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api)
        now = Clock(schedule_start(cronjob) + timedelta(seconds=1))
        controller = CronJobController(api, now=now)
        controller.reconcile(KEY)
        now.advance(minutes=5)
        controller.reconcile(KEY)
        assert len(job_names(api)) == 2
        assert len(cronjob_of(api)["status"]["active"]) == 2

    run(scenario)


def test_missed_runs_start_only_the_latest(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api)
        first = schedule_start(cronjob)
        now = Clock(first + timedelta(minutes=17))
        controller = CronJobController(api, now=now)
        controller.reconcile(KEY)
        assert job_names(api) == [job_name("tick", first + timedelta(minutes=15))]

    run(scenario)


def test_starting_deadline(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api, startingDeadlineSeconds=30)
        now = Clock(schedule_start(cronjob) + timedelta(seconds=90))
        controller = CronJobController(api, now=now)
        controller.reconcile(KEY)
        assert job_names(api) == []

    run(scenario)


def test_suspended_cronjobs_start_nothing(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api, suspend=True)
        now = Clock(schedule_start(cronjob) + timedelta(minutes=1))
        CronJobController(api, now=now).reconcile(KEY)
        assert job_names(api) == []

    run(scenario)


def test_history_limits(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api, successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1)
        first = schedule_start(cronjob)
        now = Clock(first + timedelta(seconds=1))
        controller = CronJobController(api, now=now)
        for run_number in range(4):
            controller.reconcile(KEY)
            name = job_name("tick", first + timedelta(minutes=5 * run_number))
            finish(api, name, "Failed" if run_number == 1 else "Complete", f"2030-01-01T00:0{run_number}:00Z")
            now.advance(minutes=5)
        controller.reconcile(KEY)
        kept = [j for j in api.list(rtype(api, "jobs"), "default").items if not j["metadata"].get("deletionTimestamp")]
        names = sorted(j["metadata"]["name"] for j in kept)
        expected = sorted(job_name("tick", first + timedelta(minutes=minutes)) for minutes in (5, 15, 20))
        assert names == expected  # the last failed one, the last complete one, and the running one

    run(scenario)


def test_time_zone_of_the_scheduled_timestamp(api: Api) -> None:
    def scenario() -> None:
        cronjob = make_cronjob(api, timeZone="Asia/Tokyo")
        now = Clock(schedule_start(cronjob) + timedelta(seconds=1))
        CronJobController(api, now=now).reconcile(KEY)
        [job] = api.list(rtype(api, "jobs"), "default").items
        stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        assert stamp.endswith("+09:00")

    run(scenario)
