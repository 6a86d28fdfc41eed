"""A controller is a de-duplicating work queue fed by the watch hub and drained on the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

from ..rest import Api
from ..settings import ClusterSettings
from ..status import ApiError

log = logging.getLogger(__name__)


class Controller:
    """Subclasses map events to keys (`keys_for`) and bring one key to its desired state (`reconcile`).

    `reconcile` may call `enqueue_after` to look at a key again later (a timer, such as a container that
    becomes ready after a delay, or a back-off); work never polls.
    """

    name = "controller"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        self.api = api
        self.settings = settings or ClusterSettings()
        self._pending: dict[Hashable, None] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._wake = asyncio.Event()
        api.hub.listen(self._on_event)

    def keys_for(
        self, resource: str, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[Hashable]:
        raise NotImplementedError

    def reconcile(self, key: Hashable) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Called once before the loop runs: enqueue whatever already exists (the state after a restart)."""

    def enqueue(self, key: Hashable) -> None:
        self._pending[key] = None
        self._wake.set()

    def enqueue_after(self, key: Hashable, seconds: float) -> None:
        """Reconcile `key` again after `seconds`; an earlier pending timer for the same key wins."""
        if seconds <= 0:
            self.enqueue(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        if existing is not None and existing.when() <= loop.time() + seconds:
            return
        if existing is not None:
            existing.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.enqueue(key)

        self._timers[key] = loop.call_later(seconds, fire)

    def _on_event(self, resource: str, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for key in self.keys_for(resource, event_type, obj, old):
            self.enqueue(key)

    async def run(self) -> None:
        self.start()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    key = next(iter(self._pending))
                    del self._pending[key]
                    try:
                        self.reconcile(key)
                    except ApiError as err:
                        log.info("%s: %s: %s", self.name, key, err.message)
                    except Exception:
                        log.exception("%s failed on %s", self.name, key)
                    await asyncio.sleep(0)
        finally:
            for timer in self._timers.values():
                timer.cancel()
