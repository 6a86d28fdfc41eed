"""The typed shell: commands run in a real bash on a terminal, one by one, with exit codes and output read back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.lab.terminal import TerminalError, TypedShell


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[TypedShell]:
    with TypedShell(tmp_path, {"GREETING": "hello"}) as typed:
        yield typed


def test_output_and_exit_code_of_each_command(shell: TypedShell) -> None:
    first = shell.type("echo $GREETING world")
    assert (first.exit_code, first.output) == (0, "hello world")
    failed = shell.type("ls /no/such/folder")
    assert failed.exit_code == 2 and not failed.ok
    assert "No such file or directory" in failed.output


def test_commands_share_one_shell_as_typed_commands_do(shell: TypedShell, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    shell.type("cd sub && export COLOR=blue")
    where = shell.type("pwd; echo $COLOR")
    assert where.output.splitlines() == [str(tmp_path / "sub"), "blue"]


def test_commands_run_on_a_terminal(shell: TypedShell) -> None:
    assert shell.type("test -t 0 && test -t 1").ok


def test_multi_line_commands_and_here_documents(shell: TypedShell) -> None:
    typed = shell.type("cat <<EOF\nline one\nline two\nEOF")
    assert (typed.exit_code, typed.output) == (0, "line one\nline two")


def test_output_that_looks_like_a_prompt_does_not_end_the_command(shell: TypedShell) -> None:
    typed = shell.type("echo '[driftlab-00000000:0]$ '; exit_code_later=7; (exit 7)")
    assert typed.exit_code == 7


def test_a_command_that_does_not_finish_is_interrupted_and_the_shell_goes_on(shell: TypedShell) -> None:
    slow = shell.type("sleep 30", timeout=0.3)
    assert slow.timed_out and slow.exit_code is None
    assert shell.type("echo still here").output == "still here"


def test_exit_ends_the_shell_with_its_code(shell: TypedShell) -> None:
    gone = shell.type("exit 4")
    assert gone.exit_code == 4
    with pytest.raises(TerminalError, match="not running"):
        shell.type("echo nobody")
