"""`driftlab start --demo` and `driftlab serve` as the command line reads them (the TUI itself is not run)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from engine import cli
from engine.lab.demo import DemoSettings, Rhythm


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def tui(course: str | None, trusted: bool, demo: DemoSettings | None = None) -> None:
        calls.append({"course": course, "trusted": trusted, "demo": demo})

    monkeypatch.setattr(cli, "_tui", tui)
    return calls


def test_start_with_demo_plays_from_the_start_at_the_speed_asked(opened: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(cli.cli, ["start", "antipatterns", "--demo", "--auto-next", "--demo-speed", "2"])
    assert result.exit_code == 0, result.output
    (call,) = opened
    assert call["course"] == "antipatterns"
    assert call["demo"] == DemoSettings(autostart=True, auto_next=True, rhythm=Rhythm().scaled(2))


def test_start_without_demo_has_no_demo(opened: list[dict[str, Any]]) -> None:
    assert CliRunner().invoke(cli.cli, ["start", "antipatterns"]).exit_code == 0
    assert opened[0]["demo"] is None


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--auto-next"], "--auto-next and --demo-speed go with --demo"),
        (["--demo-speed", "2"], "--auto-next and --demo-speed go with --demo"),
        (["--demo", "--demo-speed", "0"], "0.0 is not in the range 0.1<=x<=20"),
    ],
)
def test_demo_options_are_checked(opened: list[dict[str, Any]], args: list[str], said: str) -> None:
    result = CliRunner().invoke(cli.cli, ["start", "antipatterns", *args])
    assert result.exit_code == 2
    assert said in result.output
    assert not opened


def test_the_tui_runs_in_the_browser_terminal_serve_gives_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert cli._in_terminal()


def test_serve_passes_its_options_on(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("engine.tui.web.serve", lambda course, **options: calls.append((course, options)))
    result = CliRunner().invoke(cli.cli, ["serve", "antipatterns", "--host", "0.0.0.0", "--port", "9000", "--trust"])
    assert result.exit_code == 0, result.output
    assert calls == [("antipatterns", {"host": "0.0.0.0", "port": 9000, "public_url": None, "trusted": True})]
