"""`driftlab serve`: the same app in a web browser, through textual-serve.

textual-serve answers HTTP with a page holding a terminal emulator; each browser tab that opens it gets its own
`driftlab` process (the picker, or `driftlab start COURSE`) whose screen travels over a websocket. It listens on
127.0.0.1 unless told otherwise: whoever reaches it drives the labs, so listening elsewhere is said loudly.

Every process starts with the server's environment, so all tabs share one driftlab home. A workshop
(`--workshop`) runs `driftlab start --workshop` instead, which asks each learner's name and keeps their labs
and progress in a folder of their own (engine.tui.workshop).
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

from .. import paths
from ..errors import DriftlabError
from .workshop import LearnerNetwork, learners_with_state, network_for_learners, network_note

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD = frozenset({"0.0.0.0", "::", ""})
TITLE = "driftlab"


def app_command(course: str | None, trusted: bool = False, workshop: bool = False, own_network: bool = False) -> str:
    """The shell command each browser tab runs: this Python's driftlab, on the picker or on `course`; in a
    workshop, asking the learner's name first (in a network of the tab's own, with `own_network`)."""
    args = [sys.executable, "-m", "engine.cli"]
    if workshop:
        args += ["start", "--workshop", *(["--own-network"] if own_network else [])]
        args += [*([course] if course is not None else []), *(["--trust"] if trusted else [])]
    elif course is not None:
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


def binding_note(
    host: str, port: int, url: str, learners: list[str] | None = None, network: LearnerNetwork | None = None
) -> list[str]:
    """What to tell the presenter before serving: where, a warning when it is not this machine only, and for a
    workshop (`learners` given: those who already have state) how learners are kept apart (`network`: whether
    each has a 127.0.0.1 of their own)."""
    if learners is None:
        lines = [f"Serving driftlab at {url} (Ctrl+C stops it)"]
    else:
        lines = [f"Serving a driftlab workshop at {url} (Ctrl+C stops it)", workshop_note(learners)]
        if network is not None:
            lines.append(network_note(network))
    if not is_loopback(host):
        where = "every network interface" if host in WILDCARD else host
        lines.append(
            f"warning: listening on {where}, port {port}: anyone who can reach this machine there can use "
            "driftlab and run its labs. Serve on a workshop network you trust, or use --host 127.0.0.1."
        )
    return lines


def workshop_note(learners: list[str]) -> str:
    """How a workshop keeps learners apart, and who already has state (they resume by typing their name)."""
    where = paths.learners_dir()
    have = f"{len(learners)} learner{'s' if len(learners) != 1 else ''} ha{'ve' if len(learners) != 1 else 's'}"
    named = f" ({', '.join(learners[:8])}{', …' if len(learners) > 8 else ''})" if learners else ""
    return (
        f"workshop: each browser tab asks the learner's name and keeps their labs and progress in "
        f"{where}/<name>/; {have} state there{named}"
    )


def serve(
    course: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    public_url: str | None = None,
    trusted: bool = False,
    workshop: bool = False,
    say: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM; says where once it listens. DriftlabError when the address cannot be used.
    With `workshop`, each browser tab asks the learner's name and uses that learner's own state."""
    url = browser_url(host, port, public_url)
    tell = say or (lambda line: print(line, file=sys.stderr, flush=True))
    network = network_for_learners() if workshop else None
    server = _server(app_command(course, trusted, workshop, own_network=bool(network and network.own)), url)

    def listening() -> None:
        learners = learners_with_state() if workshop else None
        for line in binding_note(host, port, url, learners, network):
            tell(line)

    try:
        asyncio.run(_serve(server, host, port, listening))
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
