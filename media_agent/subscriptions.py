"""Asking the SFU again for tracks it dropped or refused, for the stage agent and the composer.

A worker keeps the publication sids it asked for (`publication.subscribed` changes only when the
SFU answers). A subscription that ends without the worker's asking and without an unpublish or a
leave (those come with events of their own), or one the SFU refuses, is taken out of that set and
asked for again after RESUBSCRIBE_DELAY_S by the worker's own sync, which requests whatever is
still published and wanted. Without it, that speaker stayed silent, never took the spotlight, or
stayed a card, until they published anew.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

# At most one retry pending per room, so a subscription that keeps failing costs one request this often.
RESUBSCRIBE_DELAY_S = 2.0

Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Future[Any]"]


class Resubscriber:
    def __init__(self, spawn: Spawn, sync: Callable[[], None]) -> None:
        """`spawn(coro, name)` runs a task the worker cancels when it closes; `sync()` asks for
        every track still published and wanted that is not in the worker's sets."""
        self._spawn = spawn
        self._sync = sync
        self._pending: asyncio.Future[Any] | None = None

    def lost(self, sid: str, *wanted: set[str]) -> None:
        """The subscription to `sid` ended or was refused: out of `wanted`, asked for again shortly
        (nothing when the worker had not asked for it: it dropped it itself, or never wanted it)."""
        if not any(sid in sids for sids in wanted):
            return
        for sids in wanted:
            sids.discard(sid)
        if self._pending is None or self._pending.done():
            self._pending = self._spawn(self._later(), "resubscribe")

    async def _later(self) -> None:
        await asyncio.sleep(RESUBSCRIBE_DELAY_S)
        self._sync()
