"""Avatars for the composed video, fetched under the shared avatar policy (contract/avatar_fetch.py:
https from allow-listed hosts at public addresses, no redirects, size and time limits).

Fetching never blocks the frame loop: `AvatarCache.get` returns the picture when it has it and
otherwise starts a fetch on a small thread pool and returns None (the card shows initials until the
picture arrives). A refused or failed URL is asked for again after `AVATAR_RETRY_S`, a picture after
`AVATAR_REFRESH_S` (one changed at the same URL shows within the hour).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from PIL import Image, ImageDraw

from contract.avatar_fetch import AvatarPolicy, decode, fetch, host_of

logger = logging.getLogger("composer.avatars")

AVATAR_RETRY_S = 300.0
AVATAR_REFRESH_S = 3600.0
# A stage has at most 13 people; a few more for those who just left.
AVATAR_CACHE_SIZE = 32
USER_AGENT = "spaces-composer (avatar fetch)"


def circle(square: Image.Image, diameter: int) -> Image.Image:
    """`square` as an RGBA circle `diameter` pixels across."""
    drawn = square.resize((diameter, diameter), Image.Resampling.LANCZOS).convert("RGBA")
    mask = Image.new("L", (diameter, diameter), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, diameter - 1, diameter - 1), fill=255)
    drawn.putalpha(mask)
    return drawn


@dataclass
class _Entry:
    square: Image.Image | None  # None: refused or failed
    due: float  # when it is asked for again (a retry, or a refresh of a picture)
    circles: dict[int, Image.Image] = field(default_factory=dict)  # by diameter


class AvatarCache:
    """Avatars by URL, fetched in the background; thread-safe."""

    def __init__(
        self,
        policy: AvatarPolicy,
        *,
        workers: int = 2,
        clock: Callable[[], float] = time.monotonic,
        fetcher: Callable[[str, AvatarPolicy], bytes] = fetch,
    ) -> None:
        # The avatar hosts see who asks: the composer, not the API's proxy.
        self._policy = replace(policy, user_agent=USER_AGENT)
        self._clock = clock
        self._fetch = fetcher
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: set[str] = set()
        self._next_due = math.inf
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="avatar")
        self._generation = 0

    @property
    def generation(self) -> int:
        """What a drawing that used this cache depends on: it changes when a picture arrives, and
        when an entry is due again (so the drawing is redone, and asks for it)."""
        with self._lock:
            now = self._clock()
            if now >= self._next_due:
                self._generation += 1
                self._reschedule(now)
            return self._generation

    def get(self, url: str, diameter: int) -> Image.Image | None:
        """The picture at `url` as a circle, if it has arrived; otherwise None, and it is fetched."""
        if not url or not self._policy.enabled:
            return None
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None:
                self._entries.move_to_end(url)
            due = entry is None or self._clock() >= entry.due
            fetch_now = due and url not in self._pending and not self._closed
            if fetch_now:
                self._pending.add(url)
            picture = None
            if entry is not None and entry.square is not None:
                picture = entry.circles.get(diameter)
                if picture is None:
                    picture = entry.circles[diameter] = circle(entry.square, diameter)
        if fetch_now:
            try:
                self._pool.submit(self._load, url)
            except RuntimeError:  # closed meanwhile
                with self._lock:
                    self._pending.discard(url)
        return picture

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _load(self, url: str) -> None:
        square: Image.Image | None = None
        try:
            square = decode(self._fetch(url, self._policy), self._policy)
        except Exception as exc:  # noqa: BLE001 (whatever a URL did, it only costs its picture)
            # The URL is the user's own choice: log its host and the reason, never the whole URL.
            logger.info("avatar not drawn (%s): %s", host_of(url), exc)
        finally:
            with self._lock:
                self._pending.discard(url)
                now = self._clock()
                old = self._entries.get(url)
                if square is None and old is not None and old.square is not None:
                    # A refresh failed: keep the picture we have, try again later.
                    old.due = now + AVATAR_RETRY_S
                else:
                    due = now + (AVATAR_REFRESH_S if square is not None else AVATAR_RETRY_S)
                    self._entries[url] = _Entry(square=square, due=due)
                    if square is not None:
                        self._generation += 1
                self._entries.move_to_end(url)
                while len(self._entries) > AVATAR_CACHE_SIZE:
                    self._entries.popitem(last=False)
                self._reschedule(now)

    def _reschedule(self, now: float) -> None:
        """The next time an entry falls due (one already due waits until it is asked for)."""
        self._next_due = min(
            (entry.due for entry in self._entries.values() if entry.due > now), default=math.inf
        )
