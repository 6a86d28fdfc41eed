"""Pipeline files that are broken or hostile, and steps that never end.

A bad file is refused with `FILE:LINE:COL: message` lines (one line each), never another exception and never a
hang (an alias bomb is refused before it expands). A step that never ends is stopped at its timeout with its
whole process group, whatever it does with SIGTERM, and reported as timed out: nothing is left running.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from engine.pipeline import execute
from engine.pipeline.errors import PipelineFileError
from engine.pipeline.execute import StepOutcome, run_step
from engine.pipeline.model import load_pipeline

LINE = re.compile(r"^\.driftlab/pipeline\.yaml:\d+:\d+: [^\n]+$")


def bomb(levels: int = 9) -> str:
    lines = ["  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "jobs: [{name: j, steps: [{name: s, run: 'true'}]}]\nx:\n" + "\n".join(lines) + "\n"


BAD_FILES = {
    "unclosed-bracket": ("jobs: [\n", "not valid YAML"),
    "tab": ("jobs:\n\t- name: a\n", "not valid YAML"),
    "nul": ("jobs: []\x00\n", "not valid YAML"),
    "empty": ("", "the pipeline is empty"),
    "a-list": ("- a\n- b\n", "the pipeline must be a mapping"),
    "unknown-key": ("jobs: []\nstages: [build]\n", "stages"),
    "wrong-types": ("jobs: [{name: 5, steps: [{name: s, run: [1]}]}]\n", "jobs[0]"),
    "bad-timeout": ("timeout: forever\njobs: [{name: j, steps: [{name: s, run: x}]}]\n", "timeout"),
    "alias-bomb": (bomb(), "aliases (*name) expand the file by more than 10000 values"),
    "self-alias": ("jobs: &j [*j]\n", "refer to themselves"),
    "deep": ("jobs: " + "[" * 2000 + "]" * 2000 + "\n", "nested more than 50 levels deep"),
    "python-tag": ("jobs: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    "duplicate-key": ("jobs: []\njobs: []\n", "'jobs' is given twice"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_pipeline_file_is_refused_with_positioned_lines(case: str) -> None:
    text, expected = BAD_FILES[case]
    with pytest.raises(PipelineFileError) as caught:
        load_pipeline(text)
    lines = str(caught.value).split("\n")
    assert lines and all(LINE.match(line) for line in lines), lines
    assert any(expected in line for line in lines), lines


# ----------------------------------------------------------------------------------------------------
# Endless steps


def step(script: str, cwd: Path, timeout: float) -> tuple[StepOutcome, int]:
    pids: list[int] = []
    outcome = asyncio.run(
        run_step(script, cwd=cwd, env={}, timeout=timeout, on_start=pids.append, on_lines=lambda lines: None)
    )
    return outcome, pids[0]


def group_members(pgid: int) -> list[int]:
    """Processes still in the process group (read from /proc, so zombies of other parents count too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


ENDLESS = {
    "sleep-infinity": ("sleep infinity", 143),
    "busy-loop": ("while :; do :; done", 143),
    "ignores-sigterm": ("trap '' TERM; while :; do :; done", 137),
    "children-ignore-sigterm": ("for i in 1 2 3; do (trap '' TERM; exec sleep infinity) & done; wait", 143),
    "grandchild-ignores-sigterm": ("bash -c \"trap '' TERM; sleep infinity & wait\" & wait", 143),
    "reads-stdin-forever": ("cat", 0),
}


@pytest.mark.parametrize("case", sorted(ENDLESS))
def test_an_endless_step_is_stopped_with_its_whole_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.setattr(execute, "KILL_GRACE", 0.3)
    script, code = ENDLESS[case]
    outcome, pgid = step(script, tmp_path, timeout=0.5)
    if case == "reads-stdin-forever":
        assert outcome == StepOutcome(0, False)  # steps get no stdin: `cat` ends at once instead of waiting
    else:
        assert outcome == StepOutcome(code, True)
    assert group_members(pgid) == []  # zombies left for init to reap do not count: they no longer run
