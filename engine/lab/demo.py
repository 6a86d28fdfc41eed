"""Demo mode: a step's solution typed into a real bash with a human rhythm, for a presenter's audience.

The pieces, from the pure to the live:
- `Rhythm` and `keystrokes`: how long to wait before each key (jittered by a seeded random generator, slower
  after a space and before a symbol, a moment's thought before Enter, a pause between commands).
- `demo_actions`: what to type for a step's solution: its file edits first, as `cat > FILE <<'EOF'` with the
  file's new content pasted (nobody types a whole file live; a patch is applied to the file's current content
  first), then each command. A heredoc always ends the file with a newline.
- `Emulator`: the shell's output run through pyte (a VT100 emulator) and read back as a `ScreenShot`: styled
  runs per line and the cursor, so a UI only draws and never parses escape sequences.
- `PtyShell`: bash in a pseudo-terminal (pexpect). `demo_launch` gives it the lab's shell set-up plus a prompt
  hook that reports each command's exit code in an OSC escape sequence, which no terminal shows.
- `DemoPlayer`: one shell for the whole demo, a reader thread that feeds the emulator and notices prompts, and
  a typist thread that plays one step's actions, waiting for each command to finish before the next. Its
  `Clock` is what makes the rhythm testable: a fake one plays instantly and records every pause.

Callbacks (`on_screen`, `on_event`) come on the player's threads; nothing here imports a UI toolkit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import secrets
import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, Self

from ..course import Step
from ..errors import DriftlabError
from .edits import EditError, apply_patch
from .shell import ShellLaunch

log = logging.getLogger(__name__)

START_TIMEOUT = 15.0
COMMAND_TIMEOUT = 300.0
READ_INTERVAL = 0.05
MARK_CODE = "7770"
INTERRUPT = "\x03"
ENTER = "\r"
_SYMBOLS = frozenset("-_=/|>.<{}[]()$'\"`:;,~*&!@#%^+\\")

# Event kinds, in the order a played step goes through them.
TYPING, RAN, PLAYED, FAILED, STOPPED, ENDED = "typing", "ran", "played", "failed", "stopped", "ended"


class DemoError(DriftlabError):
    """The demo cannot play: no bash, a shell that does not start, or a solution that cannot be typed."""


# ----------------------------------------------------------------------------------------------------
# Rhythm


@dataclass(frozen=True)
class Rhythm:
    """Seconds: `key` on average before each key (±`jitter` of it), `word` more after a space, `symbol` more
    before punctuation, `think` before Enter, `between` after a prompt before the next command, `paste_line`
    per pasted line, `next_step` before moving on by itself (auto-next). `speed` divides them all."""

    key: float = 0.075
    jitter: float = 0.5
    word: float = 0.12
    symbol: float = 0.08
    think: float = 0.45
    between: float = 1.4
    paste_line: float = 0.03
    next_step: float = 2.5
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise DemoError(f"the demo speed must be above 0, not {self.speed}")

    def scaled(self, speed: float) -> Rhythm:
        """The same rhythm `speed` times as fast."""
        return replace(self, speed=self.speed * speed)

    def pause(self, name: str) -> float:
        """One of the fixed pauses (`think`, `between`, `paste_line`, `next_step`) at this speed."""
        return float(getattr(self, name)) / self.speed


INSTANT = Rhythm(key=0, jitter=0, word=0, symbol=0, think=0, between=0, paste_line=0, next_step=0)


@dataclass(frozen=True)
class DemoSettings:
    """How a front end runs demo mode: `autostart` plays each step as soon as the lab is ready (no question
    asked, as `driftlab start COURSE --demo`), `auto_next` goes on to the next step by itself once a step's
    checks pass, instead of when the presenter asks."""

    autostart: bool = False
    auto_next: bool = False
    rhythm: Rhythm = field(default_factory=Rhythm)


def keystrokes(text: str, rhythm: Rhythm, rng: random.Random) -> list[tuple[str, float]]:
    """Each character of `text` with the seconds to wait before pressing it."""
    keys: list[tuple[str, float]] = []
    previous = ""
    for char in text:
        delay = rhythm.key * (1 + rhythm.jitter * (rng.random() * 2 - 1))
        if previous == " ":
            delay += rhythm.word
        if char in _SYMBOLS and previous not in _SYMBOLS:
            delay += rhythm.symbol
        keys.append((char, max(delay, 0.0) / rhythm.speed))
        previous = char
    return keys


# ----------------------------------------------------------------------------------------------------
# What to type


@dataclass(frozen=True)
class DemoAction:
    """One command line to type; `body` is pasted after it, line by line (a heredoc's content and end)."""

    text: str
    body: tuple[str, ...] = ()


def demo_actions(step: Step, folder: Path) -> list[DemoAction]:
    """What playing `step`'s solution types, in `folder` (where the shell runs): edits, then commands."""
    solution = step.solution
    if solution is None:
        return []
    contents: dict[Path, str] = {}
    actions: list[DemoAction] = []
    for edit in solution.files:
        target = (folder / edit.path).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise DemoError(f"the file edit {edit.path!r} points outside the course's folder")
        content = edit.content
        if content is None:
            content = _patched(target, contents, edit.path, edit.patch or "")
        contents[target] = content
        actions.append(_heredoc(edit.path, content, make_folder=not target.parent.exists()))
    actions.extend(DemoAction(command) for command in solution.commands)
    return actions


def _patched(target: Path, contents: dict[Path, str], name: str, patch: str) -> str:
    try:
        original = contents[target] if target in contents else (target.read_text() if target.exists() else "")
    except OSError as err:
        raise DemoError(f"cannot read {name}: {err.strerror or err}") from None
    try:
        return apply_patch(original, patch)
    except EditError as err:
        raise DemoError(f"the patch of {name} does not apply: {err}") from None


def _heredoc(path: str, content: str, *, make_folder: bool) -> DemoAction:
    lines = content.splitlines()
    end = "EOF"
    number = 0
    while end in lines:
        number += 1
        end = f"EOF{number}"
    quoted = shlex.quote(path)
    parent = str(Path(path).parent)
    prefix = f"mkdir -p {shlex.quote(parent)} && " if make_folder and parent != "." else ""
    return DemoAction(f"{prefix}cat > {quoted} <<'{end}'", (*lines, end))


# ----------------------------------------------------------------------------------------------------
# The screen


@dataclass(frozen=True)
class Run:
    """A stretch of one line's cells in one style. Colours are Rich's names (`red`, `bright_blue`,
    `#5f87af`), or "" for the terminal's default."""

    text: str
    fg: str = ""
    bg: str = ""
    bold: bool = False
    italic: bool = False
    underline: bool = False
    reverse: bool = False


@dataclass(frozen=True)
class ScreenShot:
    """The terminal's screen: each line as runs, and the cursor (column, row), None when hidden."""

    lines: tuple[tuple[Run, ...], ...]
    cursor: tuple[int, int] | None
    columns: int
    rows: int

    def text(self) -> list[str]:
        """The screen's lines as plain text, trailing blanks removed."""
        return ["".join(run.text for run in line).rstrip() for line in self.lines]


_PYTE_COLOURS = {"brown": "yellow", "bfightmagenta": "bright_magenta"}


def _colour(name: str) -> str:
    if name == "default":
        return ""
    if re.fullmatch(r"[0-9a-fA-F]{6}", name):
        return f"#{name.lower()}"
    name = _PYTE_COLOURS.get(name, name)
    if name.startswith("bright") and not name.startswith("bright_"):
        name = "bright_" + _PYTE_COLOURS.get(name[6:], name[6:])
    return name


class Emulator:
    """A VT100 screen of `rows` × `columns` that output is fed into; `shot()` reads it back."""

    def __init__(self, rows: int, columns: int) -> None:
        import pyte

        self._screen = pyte.Screen(max(columns, 1), max(rows, 1))
        self._stream = pyte.Stream(self._screen)
        self._lock = threading.Lock()

    def feed(self, text: str) -> None:
        with self._lock:
            self._stream.feed(text)

    def resize(self, rows: int, columns: int) -> None:
        with self._lock:
            self._screen.resize(max(rows, 1), max(columns, 1))

    def shot(self) -> ScreenShot:
        import pyte

        with self._lock:
            screen = self._screen
            lines = tuple(self._line(screen.buffer[y], screen.columns) for y in range(screen.lines))
            cursor = None if screen.cursor.hidden else (screen.cursor.x, screen.cursor.y)
            if pyte.modes.DECTCEM not in screen.mode:
                cursor = None
            return ScreenShot(lines, cursor, screen.columns, screen.lines)

    @staticmethod
    def _line(cells: Mapping[int, Any], columns: int) -> tuple[Run, ...]:
        runs: list[Run] = []
        text: list[str] = []
        style: tuple[str, str, bool, bool, bool, bool] | None = None
        for x in range(columns):
            char = cells[x]
            key = (_colour(char.fg), _colour(char.bg), char.bold, char.italics, char.underscore, char.reverse)
            if key != style and text:
                runs.append(Run("".join(text), *style))
                text = []
            style = key
            text.append(char.data)
        if text and style is not None:
            runs.append(Run("".join(text), *style))
        return tuple(runs)


# ----------------------------------------------------------------------------------------------------
# The shell


class Shell(Protocol):
    """A terminal's program: what is typed goes in with `send`, what it prints comes out of `read`."""

    def send(self, text: str) -> None: ...

    def read(self, timeout: float) -> str:
        """Output that arrived within `timeout` seconds ("" if none); EOFError once the program ended."""
        ...

    def resize(self, rows: int, columns: int) -> None: ...

    def close(self) -> None: ...


class PtyShell:
    """A program in a pseudo-terminal of `rows` × `columns`, driven by pexpect."""

    def __init__(self, args: Sequence[str], env: dict[str, str], cwd: Path, rows: int, columns: int) -> None:
        import pexpect

        try:
            self._child = pexpect.spawn(
                args[0],
                list(args[1:]),
                env=env,
                cwd=str(cwd),
                dimensions=(max(rows, 2), max(columns, 10)),
                encoding="utf-8",
                codec_errors="replace",
                echo=True,
            )
        except (pexpect.ExceptionPexpect, OSError) as err:
            raise DemoError(f"cannot start {args[0]}: {err}") from None
        self._child.delaybeforesend = None

    def send(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # ValueError: the shell was closed meanwhile
            self._child.send(text)

    def read(self, timeout: float) -> str:
        import pexpect

        try:
            return str(self._child.read_nonblocking(4096, timeout))
        except pexpect.TIMEOUT:
            return ""
        except (pexpect.EOF, OSError, ValueError):
            raise EOFError from None

    def resize(self, rows: int, columns: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._child.setwinsize(max(rows, 2), max(columns, 10))

    def close(self) -> None:
        import pexpect

        if self._child.isalive():
            with contextlib.suppress(OSError, ValueError):
                self._child.sendline("exit")
            with contextlib.suppress(pexpect.ExceptionPexpect, OSError):
                self._child.expect(pexpect.EOF, timeout=1)
        with contextlib.suppress(pexpect.ExceptionPexpect, OSError):
            self._child.close(force=True)


def demo_launch(launch: ShellLaunch, folder: Path, token: str) -> ShellLaunch:
    """The lab's bash (`launch`, as `driftlab shell` starts it) with the demo's prompt hook: after each command
    it prints an invisible OSC sequence with `token` and the exit code. The prompt is kept short for an
    audience (the lab's marker and the folder's name), the demo stays out of the learner's history file, and a
    pasted tab is a tab. Its start-up file is written into `folder`."""
    if Path(launch.program).name != "bash" or "--rcfile" not in launch.args:
        raise DemoError(f"demo mode drives bash, not {launch.program}")
    rcfile = launch.args[launch.args.index("--rcfile") + 1]
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f". {shlex.quote(rcfile)}",
        f"PS1={shlex.quote(launch.marker + ' ')}'\\W \\$ '",
        "unset HISTFILE",
        "bind '\"\\t\": tab-insert' 2>/dev/null",
        f"__driftlab_demo_mark() {{ local s=$?; printf '\\033]{MARK_CODE};%s;%s\\007' {token} \"$s\"; return $s; }}",
        'PROMPT_COMMAND="__driftlab_demo_mark${PROMPT_COMMAND:+;$PROMPT_COMMAND}"',
    ]
    (folder / "bashrc").write_text("\n".join(lines) + "\n")
    args = [launch.program, "--rcfile", str(folder / "bashrc"), "-i"]
    env = {**launch.env, "TERM": "xterm-256color", "PAGER": "cat", "GIT_PAGER": "cat"}
    return ShellLaunch(launch.program, args, env, launch.marker)


def split_marks(text: str, token: str) -> tuple[str, list[int], str]:
    """(`text` without the prompt hook's sequences, their exit codes, a tail that may be the start of one and
    must wait for more output)."""
    pattern = re.compile(re.escape(f"\x1b]{MARK_CODE};{token};") + r"(\d+)\x07")
    codes = [int(match.group(1)) for match in pattern.finditer(text)]
    text = pattern.sub("", text)
    start = text.rfind("\x1b]")
    if start >= 0 and "\x07" not in text[start:]:
        tail = text[start:]
        prefix = f"\x1b]{MARK_CODE};{token};"
        if prefix.startswith(tail) or (tail.startswith(prefix) and tail[len(prefix) :].isdigit()):
            return text[:start], codes, tail
    return text, codes, ""


# ----------------------------------------------------------------------------------------------------
# The player


class Clock(Protocol):
    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Let `seconds` pass; True when `stop` was set first (the demo is to stop)."""
        ...


class RealClock:
    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(seconds) if seconds > 0 else stop.is_set()


@dataclass(frozen=True)
class DemoEvent:
    """What the demo did: `typing` command `index` of `total`, it `ran` (with `exit_code`), the step was
    `played` to its end, it `failed` (`message` says why), was `stopped`, or the shell `ended` by itself."""

    kind: str
    step_id: str = ""
    index: int = 0
    total: int = 0
    command: str = ""
    exit_code: int | None = None
    message: str = ""


@dataclass
class _Play:
    step_id: str
    actions: list[DemoAction]
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    typed: bool = False  # keys went in since the last prompt: Ctrl-C clears them on stop


class DemoPlayer:
    """One shell for a demo: `play(step_id, actions)` types them (stopping what was being typed first),
    `stop()` ends typing and the shell. Use `start()` first; screens and events come by callback."""

    def __init__(
        self,
        shell: Shell,
        emulator: Emulator,
        token: str,
        on_screen: Callable[[ScreenShot], None],
        on_event: Callable[[DemoEvent], None],
        *,
        rhythm: Rhythm | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        command_timeout: float = COMMAND_TIMEOUT,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.shell = shell
        self.emulator = emulator
        self.token = token
        self.on_screen = on_screen
        self.on_event = on_event
        self.rhythm = rhythm or Rhythm()
        self.clock: Clock = clock or RealClock()
        self.rng = random.Random(seed)
        self.command_timeout = command_timeout
        self.start_timeout = start_timeout
        self.exit_codes: list[int] = []
        self._cond = threading.Condition()
        self._closed = threading.Event()
        self._ended = False
        self._play: _Play | None = None
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="demo-reader", daemon=True)

    # Life cycle -------------------------------------------------------------------------------------------

    def start(self) -> Self:
        self._reader.start()
        return self

    @property
    def playing(self) -> bool:
        play = self._play
        return play is not None and play.thread is not None and play.thread.is_alive()

    def play(self, step_id: str, actions: Sequence[DemoAction]) -> None:
        """Type `actions` (a step's solution) from the next prompt on; returns at once."""
        if self._closed.is_set():
            raise DemoError("the demo's shell is closed; start the demo again")
        with self._lock:
            self._halt(self._play)
            play = _Play(step_id, list(actions))
            play.thread = threading.Thread(target=self._type_safely, args=(play,), name="demo-typist", daemon=True)
            self._play = play
            play.thread.start()

    def halt(self) -> None:
        """Stop typing (a command still running is interrupted); the shell stays."""
        with self._lock:
            self._halt(self._play)

    def stop(self) -> None:
        """Stop typing and close the shell. Blocking until both are done."""
        with self._lock:
            self._halt(self._play)
            self._play = None
        self._closed.set()
        self.shell.close()
        with self._cond:
            self._cond.notify_all()
        if self._reader.is_alive() and self._reader is not threading.current_thread():
            self._reader.join(timeout=5)

    def resize(self, rows: int, columns: int) -> None:
        self.emulator.resize(rows, columns)
        self.shell.resize(rows, columns)
        self._call(self.on_screen, self.emulator.shot())

    def screen(self) -> ScreenShot:
        return self.emulator.shot()

    def _halt(self, play: _Play | None) -> None:
        if play is None or play.thread is None or not play.thread.is_alive():
            return
        play.stop.set()
        with self._cond:
            self._cond.notify_all()
        if play.thread is not threading.current_thread():
            play.thread.join(timeout=5)

    # Reading ----------------------------------------------------------------------------------------------

    def _read(self) -> None:
        pending = ""
        while not self._closed.is_set():
            try:
                chunk = self.shell.read(READ_INTERVAL)
            except EOFError:
                self._shell_ended()
                return
            if not chunk:
                continue
            text, codes, pending = split_marks(pending + chunk, self.token)
            if codes:
                with self._cond:
                    self.exit_codes.extend(codes)
                    self._cond.notify_all()
            if text:
                self.emulator.feed(text)
                self._call(self.on_screen, self.emulator.shot())

    def _shell_ended(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()
        if not self._closed.is_set():
            self._call(self.on_event, DemoEvent(ENDED, message="the demo's shell ended"))

    def _wait_prompt(self, after: int, timeout: float, stop: threading.Event) -> int | None:
        """The exit code reported by the first prompt after the `after`-th; None on timeout, stop or EOF."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.exit_codes) <= after:
                left = deadline - time.monotonic()
                if left <= 0 or stop.is_set() or self._ended or self._closed.is_set():
                    return None
                self._cond.wait(min(left, 0.5))
            return self.exit_codes[after]

    # Typing -----------------------------------------------------------------------------------------------

    def _type_safely(self, play: _Play) -> None:
        """A failure of the typist is told as a failed play, never a traceback over the screen."""
        try:
            self._type(play)
        except Exception as err:
            log.exception("the demo's typist failed")
            self._call(self.on_event, DemoEvent(FAILED, play.step_id, message=f"the demo failed: {err}"))

    def _type(self, play: _Play) -> None:
        total = len(play.actions)
        if self._wait_prompt(0, self.start_timeout, play.stop) is None:
            self._finish(play, "the demo's shell did not show its prompt")
            return
        for index, action in enumerate(play.actions, start=1):
            if self.clock.wait(self.rhythm.pause("between"), play.stop):
                return self._finish(play)
            self._call(self.on_event, DemoEvent(TYPING, play.step_id, index, total, action.text))
            code = self._type_action(play, action)
            if play.stop.is_set():
                return self._finish(play)
            if code is None:
                limit = f"{self.command_timeout:g}"
                self._finish(play, f"`{action.text}` did not finish within {limit}s, so it was interrupted")
                return
            self._call(self.on_event, DemoEvent(RAN, play.step_id, index, total, action.text, code))
            if code != 0:
                self._finish(play, f"`{action.text}` exited with {code}; the demo stopped there")
                return
        self._call(self.on_event, DemoEvent(PLAYED, play.step_id, total, total))

    def _type_action(self, play: _Play, action: DemoAction) -> int | None:
        """Type the line, press Enter, paste the body; the exit code once the prompt is back."""
        with self._cond:
            seen = len(self.exit_codes)
        for char, delay in keystrokes(action.text, self.rhythm, self.rng):
            if self.clock.wait(delay, play.stop):
                return None
            self.shell.send(char)
            play.typed = True
        if self.clock.wait(self.rhythm.pause("think"), play.stop):
            return None
        self.shell.send(ENTER)
        for line in action.body:
            if self.clock.wait(self.rhythm.pause("paste_line"), play.stop):
                return None
            self.shell.send(line + ENTER)
        code = self._wait_prompt(seen, self.command_timeout, play.stop)
        if code is not None:
            play.typed = False
        return code

    def _finish(self, play: _Play, failure: str = "") -> None:
        """End a play that did not reach its end: clear a half-typed line or interrupt a running command (both
        leave `typed` set), and say why."""
        if play.typed:
            with self._cond:
                seen = len(self.exit_codes)
            self.shell.send(INTERRUPT)
            self._wait_prompt(seen, 2.0, threading.Event())
        if failure:
            self._call(self.on_event, DemoEvent(FAILED, play.step_id, message=failure))
        else:
            self._call(self.on_event, DemoEvent(STOPPED, play.step_id, message="the demo was stopped"))

    @staticmethod
    def _call(callback: Callable[..., None], *args: object) -> None:
        """A callback that fails must not end the demo."""
        try:
            callback(*args)
        except Exception:
            log.exception("a demo callback failed")


def start_demo(
    launch: ShellLaunch,
    folder: Path,
    cwd: Path,
    on_screen: Callable[[ScreenShot], None],
    on_event: Callable[[DemoEvent], None],
    *,
    rows: int,
    columns: int,
    rhythm: Rhythm | None = None,
    clock: Clock | None = None,
) -> DemoPlayer:
    """A started player on a new bash: `launch` (the lab's shell) with the demo's prompt hook, in `cwd`."""
    token = f"demo{secrets.token_hex(4)}"
    shell_launch = demo_launch(launch, folder, token)
    shell = PtyShell(shell_launch.args, {**os.environ, **shell_launch.env}, cwd, rows, columns)
    emulator = Emulator(rows, columns)
    return DemoPlayer(shell, emulator, token, on_screen, on_event, rhythm=rhythm, clock=clock).start()
