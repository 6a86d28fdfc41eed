"""The TUI's action registry and the learner's keymap file: every binding has an id and a tooltip, and a keys.toml
that is wrong is refused with a message that names the file and the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.tui import actions
from engine.tui.actions import KeymapError, load_keymap


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(text)
    return path


def test_every_action_has_a_unique_id_a_tooltip_and_a_binding_with_both() -> None:
    ids = [spec.id for spec in actions.ACTIONS]
    assert len(ids) == len(set(ids))
    for scope in (actions.APP, actions.PICKER, actions.LESSON, actions.DIALOG):
        for binding in actions.bindings(scope):
            assert binding.id and binding.id.startswith(f"{scope}.")
            assert binding.tooltip


def test_the_default_keys_do_not_clash() -> None:
    assert actions.clashes_in(actions.effective_keys({})) == []


def test_no_file_means_the_default_keys(tmp_path: Path) -> None:
    assert load_keymap(tmp_path / "missing.toml") == {}


def test_a_valid_file_remaps_keys(tmp_path: Path) -> None:
    path = write(tmp_path, '[keys]\n"lesson.hint" = "f1"\n"lesson.shell" = "ctrl+o,!"\n')
    keymap = load_keymap(path)
    assert keymap == {"lesson.hint": "f1", "lesson.shell": "ctrl+o,!"}
    assert actions.effective_keys(keymap)["lesson.hint"] == "f1"
    assert actions.effective_keys(keymap)["lesson.next"] == "n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[keys]\n"lesson.hnit" = "f1"\n', "unknown action 'lesson.hnit'; the actions are: app.help"),
        ('[keys]\n"lesson.hint" = ""\n', "lesson.hint: '' is not a key"),
        ('[keys]\n"lesson.hint" = "ctrl+ h"\n', "'ctrl+ h' is not a key"),
        ('[keys]\n"lesson.hint" = 3\n', "keys.lesson.hint: Input should be a valid string"),
        ("[colours]\nok = 'green'\n", "unknown setting 'colours'; only a [keys] table is read"),
        ("[keys\n", "is not valid TOML"),
        ('[keys]\n"lesson.hint" = "n"\n', "lesson.next and lesson.hint are both bound to 'n'"),
        ('[keys]\n"lesson.copy" = "?"\n', "are both bound to '?'"),
    ],
)
def test_a_wrong_file_is_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(KeymapError) as caught:
        load_keymap(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_keys_read_as_a_person_reads_them() -> None:
    assert actions.key_label("question_mark") == "?"
    assert actions.key_label("ctrl+t") == "ctrl+t"
    assert actions.key_label("left_square_bracket,f1") == "[ / f1"
    assert actions.normalize_key("?") == "question_mark"
    assert actions.normalize_key("h") == "h"


def test_the_help_listing_shows_remapped_keys_and_ids() -> None:
    rows = actions.listing({"lesson.hint": "f1"})
    hint = next(row for row in rows if row[3] == "lesson.hint")
    assert hint == ("Lesson", "f1", "Hint: Reveal the next hint of this step", "lesson.hint")
