"""Demo mode's engine: the typing rhythm (with a fake clock), what a solution types, the screen read back through
the VT100 emulator, and the player driving a scripted shell and a real bash."""

from __future__ import annotations

import os
import queue
import random
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.course.model import FileEdit, Solution, Step
from engine.lab.demo import (
    ENDED,
    FAILED,
    INSTANT,
    PLAYED,
    RAN,
    STOPPED,
    TYPING,
    DemoAction,
    DemoError,
    DemoEvent,
    DemoPlayer,
    Emulator,
    Rhythm,
    ScreenShot,
    demo_actions,
    demo_launch,
    keystrokes,
    split_marks,
    start_demo,
)
from engine.lab.shell import ShellLaunch

TOKEN = "demotest"
TIMEOUT = 10.0


def mark(code: int) -> str:
    return f"\x1b]7770;{TOKEN};{code}\x07"


# ----------------------------------------------------------------------------------------------------
# Rhythm


def test_keys_come_at_a_human_pace_slower_after_a_space_and_before_a_symbol() -> None:
    rhythm = Rhythm(key=0.1, jitter=0.2, word=0.3, symbol=0.2)
    keys = keystrokes("kubectl get -n dev", rhythm, random.Random(7))
    assert "".join(char for char, _ in keys) == "kubectl get -n dev"
    previous = " " + "kubectl get -n dev"[:-1]
    plain = [delay for (char, delay), before in zip(keys, previous, strict=True) if char.isalpha() and before.isalpha()]
    assert all(0.08 <= delay <= 0.12 for delay in plain)
    after_space = keys[len("kubectl ")][1]
    assert 0.38 <= after_space <= 0.42
    dash = keys[len("kubectl get ")][1]
    assert 0.58 <= dash <= 0.62  # after a space and a symbol
    assert len({round(delay, 6) for delay in plain}) > 1, "keys are not evenly spaced"


def test_the_same_seed_types_the_same_way_and_speed_scales_every_pause() -> None:
    rhythm = Rhythm()
    first = keystrokes("git push", rhythm, random.Random(1))
    assert first == keystrokes("git push", rhythm, random.Random(1))
    twice = keystrokes("git push", rhythm.scaled(2), random.Random(1))
    assert [round(delay * 2, 9) for _, delay in twice] == [round(delay, 9) for _, delay in first]
    assert rhythm.scaled(2).pause("between") == pytest.approx(rhythm.between / 2)
    assert all(delay == 0 for _, delay in keystrokes("ls -la", INSTANT, random.Random(1)))


def test_a_speed_of_zero_is_refused() -> None:
    with pytest.raises(DemoError, match="speed must be above 0"):
        Rhythm(speed=0)


# ----------------------------------------------------------------------------------------------------
# What a solution types


def step_with(commands: list[str] | None = None, files: list[FileEdit] | None = None) -> Step:
    return Step(id="s", title="S", instructions="Do it.", solution=Solution(commands=commands or [], files=files or []))


def test_commands_are_typed_as_written_after_the_file_edits(tmp_path: Path) -> None:
    step = step_with(["kubectl apply -f app.yaml"], [FileEdit(path="app.yaml", content="kind: A\nname: a\n")])
    assert demo_actions(step, tmp_path) == [
        DemoAction("cat > app.yaml <<'EOF'", ("kind: A", "name: a", "EOF")),
        DemoAction("kubectl apply -f app.yaml"),
    ]


def test_a_heredoc_ends_with_a_word_the_file_does_not_contain(tmp_path: Path) -> None:
    step = step_with(files=[FileEdit(path="notes.txt", content="EOF\nEOF1\nend\n")])
    (action,) = demo_actions(step, tmp_path)
    assert action.text == "cat > notes.txt <<'EOF2'"
    assert action.body == ("EOF", "EOF1", "end", "EOF2")


def test_a_patch_is_typed_as_the_patched_file_and_a_new_folder_is_made(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("name: web\nmode: draft\n")
    patch = "@@ -1,2 +1,2 @@\n name: web\n-mode: draft\n+mode: final\n"
    step = step_with(
        files=[
            FileEdit(path="settings.yaml", patch=patch),
            FileEdit(path="new dir/x.yaml", content="a: 1\n"),
        ]
    )
    patched, created = demo_actions(step, tmp_path)
    assert patched.body == ("name: web", "mode: final", "EOF")
    assert created.text == "mkdir -p 'new dir' && cat > 'new dir/x.yaml' <<'EOF'"
    assert (tmp_path / "settings.yaml").read_text() == "name: web\nmode: draft\n", "planning writes nothing"


def test_a_patch_that_does_not_apply_or_a_path_outside_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("name: web\n")
    patch = "@@ -1,1 +1,1 @@\n-mode: draft\n+mode: final\n"
    with pytest.raises(DemoError, match=r"the patch of settings\.yaml does not apply"):
        demo_actions(step_with(files=[FileEdit(path="settings.yaml", patch=patch)]), tmp_path)
    with pytest.raises(DemoError, match="points outside the course's folder"):
        demo_actions(step_with(files=[FileEdit(path="../elsewhere.yaml", content="x\n")]), tmp_path)


def test_a_step_without_a_solution_types_nothing(tmp_path: Path) -> None:
    assert demo_actions(Step(id="s", title="S", instructions="Read."), tmp_path) == []


# ----------------------------------------------------------------------------------------------------
# The prompt hook and the screen


def test_prompt_marks_are_taken_out_of_the_output_with_their_exit_codes() -> None:
    text, codes, tail = split_marks(f"done\r\n{mark(0)}$ ls\r\n{mark(2)}$ ", TOKEN)
    assert (text, codes, tail) == ("done\r\n$ ls\r\n$ ", [0, 2], "")
    text, codes, tail = split_marks(f"out{mark(1)[:9]}", TOKEN)
    assert (text, codes, tail) == ("out", [], mark(1)[:9])
    text, codes, tail = split_marks(tail + mark(1)[9:] + "$ ", TOKEN)
    assert (text, codes, tail) == ("$ ", [1], "")
    title = "\x1b]0;my title\x07"
    assert split_marks(title + "x", TOKEN) == (title + "x", [], "")


def test_the_emulator_reads_back_text_colours_and_the_cursor() -> None:
    emulator = Emulator(4, 20)
    emulator.feed("plain \x1b[1;31mred\x1b[0m \x1b[38;5;67mblue\x1b[0m\r\nnext")
    shot = emulator.shot()
    assert shot.text() == ["plain red blue", "next", "", ""]
    assert (shot.columns, shot.rows) == (20, 4)
    runs = {run.text: run for run in shot.lines[0]}
    assert runs["red"].fg == "red" and runs["red"].bold
    assert runs["blue"].fg == "#5f87af"
    assert runs["plain "].fg == "" and not runs["plain "].bold
    assert shot.cursor == (4, 1)
    emulator.feed("\x1b[?25l")
    assert emulator.shot().cursor is None
    emulator.resize(6, 30)
    assert (emulator.shot().columns, emulator.shot().rows) == (30, 6)


# ----------------------------------------------------------------------------------------------------
# The player, on a scripted shell


class FakeShell:
    """Echoes keys; Enter runs the line: `results` give its output and exit code, `hangs` never finish, and a
    heredoc collects lines to its end. Each prompt carries the demo's mark."""

    def __init__(self, results: dict[str, tuple[str, int]] | None = None, hangs: tuple[str, ...] = ()) -> None:
        self.results = results or {}
        self.hangs = hangs
        self.sent: list[str] = []
        self.ran: list[str] = []
        self.files: dict[str, list[str]] = {}
        self.line = ""
        self.heredoc: tuple[str, str] | None = None
        self.running = False
        self.closed = False
        self.size = (0, 0)
        self.out: queue.Queue[str] = queue.Queue()
        self.out.put(mark(0) + "$ ")

    def send(self, text: str) -> None:
        self.sent.append(text)
        for char in text:
            if char == "\r":
                self.out.put("\r\n")
                line, self.line = self.line, ""
                self._enter(line)
            elif char == "\x03":
                self.out.put("^C\r\n")
                self.line, self.running, self.heredoc = "", False, None
                self.out.put(mark(130) + "$ ")
            elif not self.running:
                self.line += char
                self.out.put(char)

    def _enter(self, line: str) -> None:
        if self.heredoc is not None:
            path, end = self.heredoc
            if line == end:
                self.heredoc = None
                self.out.put(mark(0) + "$ ")
            else:
                self.files[path].append(line)
                self.out.put("> ")
            return
        self.ran.append(line)
        heredoc = re.search(r"cat > (\S+) <<'(\w+)'", line)
        if heredoc:
            self.heredoc = (heredoc[1], heredoc[2])
            self.files[heredoc[1]] = []
            self.out.put("> ")
            return
        if line in self.hangs:
            self.running = True
            return
        output, code = self.results.get(line, ("", 0))
        self.out.put(output + mark(code) + "$ ")

    def read(self, timeout: float) -> str:
        if self.closed:
            raise EOFError
        try:
            return self.out.get(timeout=timeout)
        except queue.Empty:
            return ""

    def resize(self, rows: int, columns: int) -> None:
        self.size = (rows, columns)

    def close(self) -> None:
        self.closed = True

    def typed_keys(self) -> str:
        return "".join(self.sent)


class FakeClock:
    """Time passes at once and every pause is recorded; with `hold_at`, the pause of that number blocks until
    the demo is stopped (`held` tells when it got there)."""

    def __init__(self, hold_at: int | None = None) -> None:
        self.pauses: list[float] = []
        self.hold_at = hold_at
        self.held = threading.Event()

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        self.pauses.append(seconds)
        if self.hold_at is not None and len(self.pauses) == self.hold_at:
            self.held.set()
            stop.wait(TIMEOUT)
        return stop.is_set()


class Recorder:
    def __init__(self) -> None:
        self.events: list[DemoEvent] = []
        self.screens: list[ScreenShot] = []
        self._cond = threading.Condition()

    def event(self, event: DemoEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def screen(self, shot: ScreenShot) -> None:
        self.screens.append(shot)

    def wait_for(self, kind: str, count: int = 1) -> list[DemoEvent]:
        with self._cond:
            self._cond.wait_for(lambda: sum(e.kind == kind for e in self.events) >= count, TIMEOUT)
        assert sum(e.kind == kind for e in self.events) >= count, f"no {kind} event; events: {self.events}"
        return self.events

    def kinds(self) -> list[tuple[str, int, int | None]]:
        return [(event.kind, event.index, event.exit_code) for event in self.events]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def player(
    shell: FakeShell, recorder: Recorder, clock: FakeClock, rhythm: Rhythm | None = None, **options: float
) -> DemoPlayer:
    return DemoPlayer(
        shell, Emulator(8, 60), TOKEN, recorder.screen, recorder.event, rhythm=rhythm, clock=clock, seed=3, **options
    ).start()


@pytest.fixture
def players() -> Iterator[list[DemoPlayer]]:
    started: list[DemoPlayer] = []
    yield started
    for each in started:
        each.stop()


def test_a_step_is_typed_key_by_key_with_pauses_and_each_command_waits_for_the_prompt(
    recorder: Recorder, players: list[DemoPlayer]
) -> None:
    shell = FakeShell({"kubectl get pods": ("NAME   READY\r\nweb    1/1\r\n", 0)})
    clock = FakeClock()
    rhythm = Rhythm(key=0.1, jitter=0, word=0, symbol=0, think=0.5, between=1.0)
    demo = player(shell, recorder, clock, rhythm)
    players.append(demo)
    demo.play("deploy", [DemoAction("kubectl get pods"), DemoAction("echo ok")])
    recorder.wait_for(PLAYED)

    assert recorder.kinds() == [(TYPING, 1, None), (RAN, 1, 0), (TYPING, 2, None), (RAN, 2, 0), (PLAYED, 2, None)]
    assert shell.ran == ["kubectl get pods", "echo ok"]
    assert shell.sent[: len("kubectl get pods")] == list("kubectl get pods"), "one key at a time"
    first = [1.0, *[0.1] * len("kubectl get pods"), 0.5]
    assert clock.pauses == pytest.approx([*first, 1.0, *[0.1] * len("echo ok"), 0.5])
    screen = demo.screen().text()
    assert screen[:4] == ["$ kubectl get pods", "NAME   READY", "web    1/1", "$ echo ok"]


def test_a_failing_command_stops_the_step_there(recorder: Recorder, players: list[DemoPlayer]) -> None:
    shell = FakeShell({"kubectl apply -f missing.yaml": ("error: the path does not exist\r\n", 1)})
    demo = player(shell, recorder, FakeClock(), INSTANT)
    players.append(demo)
    demo.play("deploy", [DemoAction("kubectl apply -f missing.yaml"), DemoAction("echo never")])
    events = recorder.wait_for(FAILED)
    assert events[-1].message == "`kubectl apply -f missing.yaml` exited with 1; the demo stopped there"
    assert shell.ran == ["kubectl apply -f missing.yaml"]
    assert "\x03" not in shell.typed_keys()


def test_a_heredoc_body_is_pasted_after_its_command_line(recorder: Recorder, players: list[DemoPlayer]) -> None:
    shell = FakeShell()
    demo = player(shell, recorder, FakeClock(), INSTANT)
    players.append(demo)
    demo.play("write", [DemoAction("cat > app.yaml <<'EOF'", ("kind: A", "EOF"))])
    recorder.wait_for(PLAYED)
    assert shell.files == {"app.yaml": ["kind: A"]}
    assert shell.sent[-2:] == ["kind: A\r", "EOF\r"]


def test_stopping_mid_command_clears_the_line_and_the_next_step_plays_cleanly(
    recorder: Recorder, players: list[DemoPlayer]
) -> None:
    shell = FakeShell()
    clock = FakeClock(hold_at=6)  # the pause between commands, then four keys, then this one
    demo = player(shell, recorder, clock, INSTANT)
    players.append(demo)
    demo.play("one", [DemoAction("kubectl delete ns shop")])
    assert clock.held.wait(TIMEOUT)
    demo.halt()
    recorder.wait_for(STOPPED)
    assert shell.typed_keys().endswith("kube\x03")
    assert shell.ran == []
    assert not demo.playing

    clock.hold_at = None
    demo.play("two", [DemoAction("echo two")])
    recorder.wait_for(PLAYED)
    assert shell.ran == ["echo two"]


def test_a_command_that_never_ends_is_interrupted_after_its_timeout(
    recorder: Recorder, players: list[DemoPlayer]
) -> None:
    shell = FakeShell(hangs=("kubectl get pods --watch",))
    demo = player(shell, recorder, FakeClock(), INSTANT, command_timeout=0.2)
    players.append(demo)
    demo.play("watch", [DemoAction("kubectl get pods --watch")])
    events = recorder.wait_for(FAILED)
    assert events[-1].message == "`kubectl get pods --watch` did not finish within 0.2s, so it was interrupted"
    assert shell.typed_keys().endswith("\r\x03")


def test_the_player_says_when_the_shell_ends_by_itself_and_refuses_to_play_after_stop(
    recorder: Recorder, players: list[DemoPlayer]
) -> None:
    shell = FakeShell()
    demo = player(shell, recorder, FakeClock(), INSTANT)
    shell.closed = True
    recorder.wait_for(ENDED)
    demo.stop()
    with pytest.raises(DemoError, match="closed"):
        demo.play("again", [DemoAction("ls")])


def test_resizing_resizes_the_shell_and_the_screen(recorder: Recorder, players: list[DemoPlayer]) -> None:
    shell = FakeShell()
    demo = player(shell, recorder, FakeClock(), INSTANT)
    players.append(demo)
    demo.resize(12, 90)
    assert shell.size == (12, 90)
    assert (recorder.screens[-1].rows, recorder.screens[-1].columns) == (12, 90)


# ----------------------------------------------------------------------------------------------------
# A real bash


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_a_real_bash_runs_the_typed_commands_and_reports_their_exit_codes(tmp_path: Path, recorder: Recorder) -> None:
    rcfile = tmp_path / "lab-bashrc"
    rcfile.write_text("PS1='(driftlab:demo) $ '\n")
    bash = shutil.which("bash") or "bash"
    launch = ShellLaunch(bash, [bash, "--rcfile", str(rcfile), "-i"], {"DEMO_VALUE": "from the lab"}, "(driftlab:demo)")
    demo = start_demo(launch, tmp_path / "shell", tmp_path, recorder.screen, recorder.event, rows=10, columns=70,
                      rhythm=INSTANT)  # fmt: skip
    try:
        demo.play("real", [DemoAction("cat > x.txt <<'EOF'", ("a\tb", "EOF")), DemoAction('echo "$DEMO_VALUE"')])
        recorder.wait_for(PLAYED)
        assert (tmp_path / "x.txt").read_text() == "a\tb\n"
        assert [event.exit_code for event in recorder.events if event.kind == RAN] == [0, 0]
        assert "from the lab" in demo.screen().text()
        prompt = f"(driftlab:demo) {tmp_path.name} {'#' if os.geteuid() == 0 else '$'} "
        assert prompt + "cat > x.txt <<'EOF'" in demo.screen().text(), "a short prompt: the lab and the folder"
        demo.play("fails", [DemoAction("(exit 3)")])
        recorder.wait_for(FAILED)
        assert [event.exit_code for event in recorder.events if event.kind == RAN][-1] == 3
    finally:
        demo.stop()
    assert "unset HISTFILE" in (tmp_path / "shell" / "bashrc").read_text()


def test_demo_mode_drives_bash_only(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="drives bash, not /bin/zsh"):
        demo_launch(ShellLaunch("/bin/zsh", ["/bin/zsh", "-i"], {}, ""), tmp_path, TOKEN)
