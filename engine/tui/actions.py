"""Every action of the TUI, named once: its key, footer label, tooltip and where it applies.

Screens build their bindings from this registry, the help screen lists it, and the command palette offers it,
so a key is described in one place. Each binding has a stable id (`lesson.hint`), which is also how a learner
remaps it: `keys.toml` in driftlab's config folder (see engine.paths.config_dir), for example

    [keys]
    "lesson.hint" = "f1"
    "lesson.shell" = "ctrl+o,!"

The file is validated when the app starts: an unknown action, a malformed key or two actions of one screen on
the same key are reported with the file's name, and the defaults stay in force.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.binding import Binding
from textual.keys import format_key

from .. import paths
from ..errors import DriftlabError

CONFIG_FILE = "keys.toml"
APP, PICKER, LESSON, DIALOG = "app", "picker", "lesson", "dialog"
SCOPE_TITLES = {APP: "Everywhere", PICKER: "Course picker", LESSON: "Lesson", DIALOG: "Dialogs"}
_KEY_RE = re.compile(r"^((ctrl|shift|alt|super|meta|hyper)\+)*([a-z0-9_]+|.)$")


class KeymapError(DriftlabError):
    """The learner's key bindings file cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class ActionSpec:
    """One named action: `action` is the Textual action run on the screen (or app) of its `scope`."""

    id: str
    action: str
    key: str
    description: str
    tooltip: str
    scope: str
    show: bool = True
    priority: bool = False
    palette: bool = True

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.show,
            priority=self.priority,
            tooltip=self.tooltip,
            id=self.id,
        )


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("app.help", "app.help", "question_mark", "Help", "List every key and what it does", APP),
    ActionSpec("app.quit", "app.quit", "q", "Quit", "Leave driftlab; running labs keep running", APP, palette=False),
    ActionSpec("picker.open", "open", "enter", "Open", "Start the highlighted course's lab, or resume it", PICKER),
    ActionSpec("lesson.check", "check", "c", "Check", "Check the step now (checks also run by themselves)", LESSON),
    ActionSpec("lesson.hint", "hint", "h", "Hint", "Reveal the next hint of this step", LESSON),
    ActionSpec("lesson.solution", "solution", "s", "Solution", "Show the solution of this step (asks first)", LESSON),
    ActionSpec("lesson.next", "next", "n", "Next", "Go to the next step", LESSON),
    ActionSpec("lesson.previous", "previous", "p", "Previous", "Go back to the previous step", LESSON),
    ActionSpec("lesson.reset", "reset", "r", "Reset", "Return this step's lab to its start (asks first)", LESSON),
    ActionSpec(
        "lesson.shell",
        "shell",
        "exclamation_mark",
        "Shell",
        "Open a shell with kubectl and git set up for the lab; type exit to come back",
        LESSON,
    ),
    ActionSpec(
        "lesson.next_block", "next_block", "right_square_bracket", "Next block", "Select the next code block", LESSON
    ),
    ActionSpec(
        "lesson.previous_block",
        "previous_block",
        "left_square_bracket",
        "Previous block",
        "Select the previous code block",
        LESSON,
        show=False,
    ),
    ActionSpec("lesson.copy", "copy_block", "y", "Copy", "Copy the selected code block to the clipboard", LESSON),
    ActionSpec(
        "lesson.send_block",
        "send_block",
        "x",
        "Send block",
        "Put the selected code block in the terminal pane, or in a shell's history: nothing runs by itself",
        LESSON,
        show=False,
    ),
    ActionSpec(
        "lesson.terminal",
        "toggle_terminal",
        "ctrl+t",
        "Terminal",
        "Move the focus into the terminal pane and out again",
        LESSON,
        priority=True,
    ),
    ActionSpec(
        "lesson.lab_tab", "next_lab_tab", "l", "Lab tab", "Show the next tab of the lab panel", LESSON, show=False
    ),
    ActionSpec(
        "lesson.demo",
        "demo",
        "d",
        "Demo",
        "Type this step's solution into a shell with a human rhythm, for an audience (asks first); d or esc stops it",
        LESSON,
        show=False,
    ),
    ActionSpec("lesson.back", "back", "escape", "Back", "Back to the course list (cancels a starting lab)", LESSON),
    ActionSpec("dialog.close", "close", "escape", "Close", "Close this window", DIALOG, palette=False),
)
BY_ID: Mapping[str, ActionSpec] = {spec.id: spec for spec in ACTIONS}


def actions(scope: str) -> list[ActionSpec]:
    return [spec for spec in ACTIONS if spec.scope == scope]


def bindings(scope: str) -> list[Binding]:
    """The Textual bindings of a scope, with their ids and tooltips."""
    return [spec.binding() for spec in actions(scope)]


def key_label(keys: str) -> str:
    """Keys as a person reads them: `?`, `ctrl+t`, `[`, `esc` (several joined with ` / `)."""
    return " / ".join(format_key(key.strip()) for key in keys.split(",") if key.strip())


def normalize_key(key: str) -> str:
    """One key in Textual's long form: `?` becomes `question_mark`, `[` `left_square_bracket`."""
    key = key.strip()
    if len(key) == 1 and not key.isalnum():
        try:
            return unicodedata.name(key).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            return key
    return key


# ----------------------------------------------------------------------------------------------------
# The learner's keymap


class KeysFile(BaseModel):
    """`keys.toml`: only a `[keys]` table mapping action ids to comma-separated keys."""

    model_config = ConfigDict(extra="forbid", strict=True)

    keys: dict[str, str] = Field(default_factory=dict)

    @field_validator("keys")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        for action_id, keys in value.items():
            if action_id not in BY_ID:
                known = ", ".join(sorted(BY_ID))
                raise ValueError(f"unknown action {action_id!r}; the actions are: {known}")
            parts = [part.strip() for part in keys.split(",")]
            if not keys.strip() or any(not part or not _KEY_RE.match(part.lower()) for part in parts):
                raise ValueError(f"{action_id}: {keys!r} is not a key; write keys like h, ctrl+o, f5 or ?")
        return value


def keymap_path() -> Path:
    return paths.config_dir() / CONFIG_FILE


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """The learner's remapped keys by action id ({} without a file); KeymapError when the file is wrong."""
    path = path if path is not None else keymap_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise KeymapError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise KeymapError(f"{path} is not valid TOML: {err}") from None
    try:
        keymap = KeysFile.model_validate(data).keys
    except ValidationError as err:
        raise KeymapError(f"{path}: {_first_problem(err)}") from None
    clashes = clashes_in(effective_keys(keymap))
    if clashes:
        raise KeymapError(f"{path}: {clashes[0]}")
    return keymap


def _first_problem(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        return f"unknown setting {where!r}; only a [keys] table is read"
    return f"{where}: {message}" if where else message


def effective_keys(keymap: Mapping[str, str]) -> dict[str, str]:
    """Every action's keys after the learner's remapping."""
    return {spec.id: keymap.get(spec.id, spec.key) for spec in ACTIONS}


def clashes_in(keys: Mapping[str, str]) -> list[str]:
    """Keys given to two actions that can be active at once (the same screen, or a screen and the app)."""
    problems = []
    for scope in (PICKER, LESSON, DIALOG):
        seen: dict[str, str] = {}
        for spec in actions(APP) + actions(scope):
            for key in keys[spec.id].split(","):
                name = normalize_key(key)
                if name in seen:
                    problems.append(f"{spec.id} and {seen[name]} are both bound to {key.strip()!r}")
                seen[name] = spec.id
    return problems


def listing(
    keymap: Mapping[str, str], scopes: Iterable[str] = (APP, PICKER, LESSON)
) -> list[tuple[str, str, str, str]]:
    """(scope title, keys, what the action does, action id) for the help screen, in registry order."""
    keys = effective_keys(keymap)
    return [
        (SCOPE_TITLES[spec.scope], key_label(keys[spec.id]), f"{spec.description}: {spec.tooltip}", spec.id)
        for scope in scopes
        for spec in actions(scope)
    ]
