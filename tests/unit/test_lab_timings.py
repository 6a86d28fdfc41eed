"""A lab sets how fast its simulated pods move; `course test` (and tests) can still override it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cluster.embedded.settings import PodTimings
from engine.course import CourseError, load_lab
from engine.lab.lab import lab_settings


def _lab(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "lab.yaml").write_text(f"title: Slow lab\nbackend: embedded\n{extra}")
    return folder


def test_a_lab_sets_its_pod_timings(tmp_path: Path) -> None:
    lab = load_lab(_lab(tmp_path, "timings:\n  pull: 3\n  start: 1.5\n"))
    settings = lab_settings(lab)
    assert settings.timings.pull == 3 and settings.timings.start == 1.5
    assert settings.timings.schedule == PodTimings().schedule


def test_an_explicit_override_wins_over_the_lab(tmp_path: Path) -> None:
    lab = load_lab(_lab(tmp_path, "timings:\n  pull: 3\n"))
    assert lab_settings(lab, PodTimings().scaled(0)).timings.pull == 0


def test_a_lab_without_timings_gets_realistic_defaults(tmp_path: Path) -> None:
    assert lab_settings(load_lab(_lab(tmp_path, ""))).timings == PodTimings()


def test_bad_timings_are_reported_with_their_position(tmp_path: Path) -> None:
    with pytest.raises(CourseError) as err:
        load_lab(_lab(tmp_path, "timings:\n  pull: -1\n  warp: 2\n"))
    message = str(err.value)
    assert "lab.yaml:4:" in message and "pull" in message
    assert "lab.yaml:5:" in message and "warp" in message
