"""A controller is a de-duplicating work queue fed by the watch hub and drained on the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

from ..rest import Api
from ..status import ApiError

log = logging.getLogger(__name__)


class Controller:
    """Subclasses map events to keys (`keys_for`) and bring one key to its desired state (`reconcile`)."""

    name = "controller"

    def __init__(self, api: Api) -> None:
        self.api = api
        self._pending: dict[Hashable, None] = {}
        self._wake = asyncio.Event()
        api.hub.listen(self._on_event)

    def keys_for(
        self, resource: str, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[Hashable]:
        raise NotImplementedError

    def reconcile(self, key: Hashable) -> None:
        raise NotImplementedError

    def enqueue(self, key: Hashable) -> None:
        self._pending[key] = None
        self._wake.set()

    def _on_event(self, resource: str, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for key in self.keys_for(resource, event_type, obj, old):
            self.enqueue(key)

    async def run(self) -> None:
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
