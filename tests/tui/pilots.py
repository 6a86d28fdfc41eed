"""Helpers for driving the app with Pilot: await what workers and watches post instead of sleeping."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.message import Message
from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed

KEYS_FILE = Path("/home/learner/.config/driftlab/keys.toml")  # shown on the help screen; never read


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until every worker finished and every message they posted was handled (a worker that fails is the
    app's to report, as the lab's error dialog does)."""
    for _ in range(20):
        with contextlib.suppress(WorkerCancelled, WorkerFailed):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            return


class Messages:
    """Records every message the app dispatches; `wait_for` returns the first that matches, as it arrives."""

    def __init__(self) -> None:
        self.seen: list[Message] = []
        self._waiting: list[tuple[Callable[[Message], bool], asyncio.Future[Message]]] = []

    def hook(self, message: Message) -> None:
        self.seen.append(message)
        for predicate, future in list(self._waiting):
            if not future.done() and predicate(message):
                future.set_result(message)

    async def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 30.0) -> Message:
        for message in self.seen:
            if predicate(message):
                return message
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting.append((predicate, future))
        return await asyncio.wait_for(future, timeout)

    async def wait_for_type(self, kind: type[Message], timeout: float = 30.0, **fields: Any) -> Message:
        def matches(message: Message) -> bool:
            return isinstance(message, kind) and all(getattr(message, k, None) == v for k, v in fields.items())

        return await self.wait_for(matches, timeout)
