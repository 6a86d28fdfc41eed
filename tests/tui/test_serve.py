"""`driftlab serve`: the installed command serves the page, a browser's websocket gets the course picker drawn
(read through a VT100 emulator), SIGTERM stops it cleanly; a taken port and an address other than loopback
are said clearly."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pyte
import pytest

from engine.tui.web import app_command, binding_note, browser_url

DRIFTLAB = Path(sys.executable).parent / "driftlab"
pytestmark = pytest.mark.skipif(not DRIFTLAB.exists(), reason=f"driftlab is not installed at {DRIFTLAB}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_line(stream: object, timeout: float) -> str:
    """One line from a process's pipe, waiting for it at most `timeout` seconds."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    readable, _, _ = select.select([fd], [], [], timeout)
    assert readable, f"nothing was said within {timeout:g}s"
    return str(stream.readline())  # type: ignore[attr-defined]


@pytest.fixture
def served(driftlab_home: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    env = {**os.environ, "DRIFTLAB_HOME": str(driftlab_home)}
    process = subprocess.Popen([str(DRIFTLAB), "serve", "--port", str(port)], env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


async def picker_through_the_websocket(port: int) -> list[str]:
    """What a browser's terminal shows once the app drew the course picker's rows."""
    screen = pyte.Screen(100, 30)
    stream = pyte.ByteStream(screen)
    deadline = time.monotonic() + 30
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{port}/ws?width=100&height=30") as websocket,
    ):
        while not any("Release antipatterns" in line and "beginner" in line for line in screen.display):
            message = await asyncio.wait_for(websocket.receive(), max(deadline - time.monotonic(), 0.1))
            assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message
            if message.type == aiohttp.WSMsgType.BINARY:
                stream.feed(message.data)
    return list(screen.display)


def test_serve_gives_a_browser_the_app_and_stops_on_sigterm(served: tuple[subprocess.Popen[str], int]) -> None:
    process, port = served
    assert read_line(process.stderr, 30).strip() == f"Serving driftlab at http://127.0.0.1:{port} (Ctrl+C stops it)"

    async def browse() -> tuple[int, str, list[str]]:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as page:
            body = await page.text()
        return page.status, body, await picker_through_the_websocket(port)

    status, body, screen = asyncio.run(browse())
    assert status == 200
    assert f"ws://127.0.0.1:{port}/ws" in body and "driftlab" in body
    assert any("pick a course" in line for line in screen)

    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    assert "driftlab serve stopped" in str(process.stderr.read() if process.stderr else "")


def test_a_taken_port_is_an_error_that_says_so(driftlab_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DRIFTLAB_HOME": str(driftlab_home)}
        result = subprocess.run([str(DRIFTLAB), "serve", "--port", str(port)], env=env, capture_output=True,
                                text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use; choose another --port or --host"
    )


def test_listening_beyond_this_machine_is_said_loudly() -> None:
    assert binding_note("127.0.0.1", 8000, "http://127.0.0.1:8000") == [
        "Serving driftlab at http://127.0.0.1:8000 (Ctrl+C stops it)"
    ]
    warning = binding_note("0.0.0.0", 8000, browser_url("0.0.0.0", 8000))[1]
    assert warning.startswith("warning: listening on every network interface, port 8000: anyone who can reach")
    assert browser_url("0.0.0.0", 8000) == f"http://{socket.gethostname()}:8000"
    assert browser_url("0.0.0.0", 8000, "https://workshop.example/") == "https://workshop.example"
    assert browser_url("::1", 9000) == "http://[::1]:9000"
    assert "10.0.0.5" in binding_note("10.0.0.5", 8000, "http://10.0.0.5:8000")[1]


def test_each_browser_tab_runs_this_pythons_driftlab() -> None:
    assert app_command(None) == f"{sys.executable} -m engine.cli"
    assert app_command("antipatterns", trusted=True) == f"{sys.executable} -m engine.cli start antipatterns --trust"
