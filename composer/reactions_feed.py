"""reactions.json beside the playlist: the room's recent aggregated reactions for HLS viewers.

Viewers of the broadcast are not in the room, so the ReactionBursts the control plane sends on
REACTIONS_TOPIC never reach them. The composer is in the room: it keeps the bursts of the last
FEED_SECONDS and writes them as one ReactionFeed (contract/reactions.py) to the broadcast's sink,
where the viewer's page reads it through the CDN like state.json and floats each burst when its
playback reaches it. At most one write per `min_interval` (a burst comes at most every 0.5 s), and
the latest feed wins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from composer.hls import Sink
from composer.hls.headers import cache_headers
from contract import names
from contract.reactions import FEED_SECONDS, ReactionBurst, ReactionFeed

logger = logging.getLogger("composer")

# Seconds between two writes of the feed: one object write per second per live Space at most.
MIN_WRITE_INTERVAL = 1.0


class ReactionFeedWriter:
    def __init__(
        self,
        sink: Sink,
        space_id: str,
        *,
        spawn: Callable[[Awaitable[Any], str], asyncio.Task[Any]],
        wall_clock: Callable[[], float],
        min_interval: float = MIN_WRITE_INTERVAL,
    ) -> None:
        self._sink = sink
        self._space_id = space_id
        self._spawn = spawn
        self._wall_clock = wall_clock
        self._min_interval = min_interval
        self._bursts: list[ReactionBurst] = []
        self._dirty = False
        self._writer: asyncio.Task[Any] | None = None
        self.written = 0

    def start(self) -> None:
        """Write the (empty) feed once at the start, so viewers read a document, not a 403/404
        from the CDN, until the first burst (an earlier composer's feed of this Space is replaced)."""
        self._schedule()

    def add(self, burst: ReactionBurst) -> None:
        """A burst received from the room."""
        self._bursts.append(burst)
        self._schedule()

    def _schedule(self) -> None:
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = self._spawn(self._write_loop(), "reactions")

    def feed(self) -> ReactionFeed:
        """The bursts that end within the last FEED_SECONDS, oldest first."""
        since = self._wall_clock() - FEED_SECONDS
        self._bursts = [b for b in self._bursts if (b.last_window + 1) * b.window_seconds >= since]
        self._bursts.sort(key=lambda b: b.first_window)
        return ReactionFeed(space_id=self._space_id, bursts=tuple(self._bursts))

    async def _write_loop(self) -> None:
        name = names.BROADCAST_REACTIONS
        headers = cache_headers(name, closed=False)
        while self._dirty:
            self._dirty = False
            body = self.feed().to_json().encode()
            try:
                await asyncio.to_thread(
                    self._sink.write,
                    f"{self._space_id}/{name}",
                    body,
                    content_type=headers["Content-Type"],
                    cache_control=headers["Cache-Control"],
                )
                self.written += 1
            except Exception as exc:  # any sink failure: the next burst writes the feed again
                logger.warning("could not write %s for %s: %s", name, self._space_id, exc)
            await asyncio.sleep(self._min_interval)
