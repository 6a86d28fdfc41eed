"""`driftlab serve`: the same app in a web browser, through textual-serve.

textual-serve answers HTTP with a page holding a terminal emulator; each browser tab that opens it gets its own
`driftlab` process (the picker, or `driftlab start COURSE`) whose screen travels over a websocket. It listens on
127.0.0.1 unless told otherwise: whoever reaches it drives the labs, so listening elsewhere is said loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from ..errors import DriftlabError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD = frozenset({"0.0.0.0", "::", ""})
TITLE = "driftlab"


def app_command(course: str | None, trusted: bool = False) -> str:
    """The shell command each browser tab runs: this Python's driftlab, on the picker or on `course`."""
    args = [sys.executable, "-m", "engine.cli"]
    if course is not None:
        args += ["start", course, *(["--trust"] if trusted else [])]
    return shlex.join(args)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def browser_url(host: str, port: int, given: str | None = None) -> str:
    """The address browsers load the page and open the websocket at: `given`, else this host and port (a
    wildcard address is replaced by this machine's name)."""
    if given:
        return given.rstrip("/")
    shown = socket.gethostname() if host in WILDCARD else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def binding_note(host: str, port: int, url: str) -> list[str]:
    """What to tell the presenter before serving: where, and a warning when it is not this machine only."""
    lines = [f"Serving driftlab at {url} (Ctrl+C stops it)"]
    if not is_loopback(host):
        where = "every network interface" if host in WILDCARD else host
        lines.append(
            f"warning: listening on {where}, port {port}: anyone who can reach this machine there can use "
            "driftlab and run its labs. Serve on a workshop network you trust, or use --host 127.0.0.1."
        )
    return lines


def serve(
    course: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    public_url: str | None = None,
    trusted: bool = False,
    say: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM; says where once it listens. DriftlabError when the address cannot be used."""
    url = browser_url(host, port, public_url)
    tell = say or (lambda line: print(line, file=sys.stderr, flush=True))
    server = _server(app_command(course, trusted), url)
    try:
        asyncio.run(_serve(server, host, port, lambda: [tell(line) for line in binding_note(host, port, url)]))
    except OSError as err:
        reason = os.strerror(err.errno).lower() if err.errno else str(err)
        raise DriftlabError(f"cannot listen on {host}:{port}: {reason}; choose another --port or --host") from None
    tell("driftlab serve stopped")


async def _serve(server: Any, host: str, port: int, listening: Callable[[], object]) -> None:
    """textual-serve's web app on our own runner, so that `listening` is called once the port is open."""
    from aiohttp import web

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal_number, stop.set)
    runner = web.AppRunner(await server._make_app(), handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        listening()
        await stop.wait()
    finally:
        await runner.cleanup()


def _server(command: str, url: str) -> Any:
    from textual_serve.server import Server

    class QuietServer(Server):  # type: ignore[misc]
        """textual-serve without its banner: driftlab says where it serves."""

        async def on_startup(self, app: Any) -> None:
            return None

    return QuietServer(command, title=TITLE, public_url=url)
