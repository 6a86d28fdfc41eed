"""A solution's file edits: whole new content, or a unified diff applied as `patch` would."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.course.model import FileEdit
from engine.lab.edits import EditError, apply_edit, apply_patch


def test_a_diff_as_git_writes_it_changes_the_lines_it_names() -> None:
    patch = "--- a/x\n+++ b/x\n@@ -2,3 +2,4 @@\n b\n-c\n+C\n+C2\n d\n"
    assert apply_patch("a\nb\nc\nd\ne\n", patch) == "a\nb\nC\nC2\nd\ne\n"


def test_several_hunks_account_for_the_lines_earlier_hunks_added_or_removed() -> None:
    patch = "@@ -1,2 +1,1 @@\n 1\n-2\n@@ -5,2 +4,2 @@\n 5\n-6\n+six\n"
    assert apply_patch("1\n2\n3\n4\n5\n6\n", patch) == "1\n3\n4\n5\nsix\n"


def test_a_hunk_whose_lines_moved_is_found_nearby() -> None:
    patch = "@@ -1,2 +1,2 @@\n alpha\n-beta\n+BETA\n"
    assert apply_patch("new first line\nalpha\nbeta\n", patch) == "new first line\nalpha\nBETA\n"


def test_a_diff_from_dev_null_creates_the_file() -> None:
    patch = "--- /dev/null\n+++ b/notes.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n"
    assert apply_patch("", patch) == "one\ntwo\n"


def test_no_newline_at_end_of_file_is_respected() -> None:
    patch = "@@ -1 +1 @@\n-old\n+new\n\\ No newline at end of file\n"
    assert apply_patch("old\n", patch) == "new"


def test_removed_lines_that_look_like_headers_stay_part_of_the_hunk() -> None:
    patch = "@@ -1,2 +1,1 @@\n--- a divider\n keep\n"
    assert apply_patch("-- a divider\nkeep\n", patch) == "keep\n"


def test_a_diff_that_does_not_match_says_which_lines_are_missing() -> None:
    with pytest.raises(EditError) as caught:
        apply_patch("a\nb\n", "@@ -1,2 +1,2 @@\n a\n-x\n+y\n")
    assert str(caught.value) == "@@ -1,2 +1,2 @@: these lines are not in the file:\n  a\n  x"


def test_text_that_is_not_a_diff_is_refused() -> None:
    with pytest.raises(EditError, match="no hunks"):
        apply_patch("a\n", "just some text\n")


def test_apply_edit_writes_new_content_and_creates_folders(tmp_path: Path) -> None:
    written = apply_edit(tmp_path, FileEdit(path="manifests/new.yaml", content="kind: ConfigMap\n"))
    assert written == (tmp_path / "manifests" / "new.yaml").resolve()
    assert written.read_text() == "kind: ConfigMap\n"


def test_apply_edit_patches_a_file_in_the_folder(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("mode: draft\nowner: me\n")
    apply_edit(
        tmp_path, FileEdit(path="settings.yaml", patch="@@ -1,2 +1,2 @@\n-mode: draft\n+mode: final\n owner: me\n")
    )
    assert (tmp_path / "settings.yaml").read_text() == "mode: final\nowner: me\n"


def test_a_failing_patch_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("mode: other\n")
    with pytest.raises(EditError, match=r"^the patch of settings.yaml does not apply: @@ -1 \+1 @@"):
        apply_edit(tmp_path, FileEdit(path="settings.yaml", patch="@@ -1 +1 @@\n-mode: draft\n+mode: final\n"))
    assert (tmp_path / "settings.yaml").read_text() == "mode: other\n"


def test_edits_outside_the_working_folder_are_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(EditError, match="points outside the working folder"):
        apply_edit(work, FileEdit(path="../escape.txt", content="x"))
    assert not (tmp_path / "escape.txt").exists()
