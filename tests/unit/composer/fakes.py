"""An in-memory sink that fails on demand and checks the playlist invariant on every write."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from composer.hls.playlist import audio_twin, low_twin, parse_playlist
from composer.hls.sinks import ContentVersioned


class SinkFailure(OSError):
    pass


class MemorySink(ContentVersioned):
    """Stores objects in a dict. `fail(key, attempt)` -> True makes that write raise.

    After every successful write it asserts what a viewer would rely on: the playlist names only
    objects that are already stored. Violations are collected (the writer thread cannot assert).
    """

    def __init__(self, fail: Callable[[str, int], bool] = lambda key, attempt: False) -> None:
        self.objects: dict[str, bytes] = {}
        self.headers: dict[str, tuple[str, str]] = {}
        self.order: list[str] = []  # successful writes, in order
        self.attempts: dict[str, int] = {}
        self.violations: list[str] = []
        self.fail = fail
        self.lock = threading.Lock()
        # One per key, as a store's compare-and-swap is per object: windows are written at once.
        self.write_locks: dict[str, threading.RLock] = collections.defaultdict(threading.RLock)

    def write(self, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
        with self.lock:
            attempt = self.attempts[key] = self.attempts.get(key, 0) + 1
        if self.fail(key, attempt):
            raise SinkFailure(f"injected failure writing {key} (attempt {attempt})")
        with self.lock:
            self.objects[key] = data
            self.headers[key] = (content_type, cache_control)
            self.order.append(key)
            self._check(key)

    def read(self, key: str) -> bytes | None:
        with self.lock:
            return self.objects.get(key)

    def _locked(self, key: str) -> AbstractContextManager[object]:
        """Held across a conditional write's compare and write, like a store's compare-and-swap."""
        with self.lock:
            return self.write_locks[key]

    def _check(self, key: str) -> None:
        space = key.split("/")[0]
        playlist = self.objects.get(f"{space}/index.m3u8")
        if playlist is None:
            if key.endswith("timeline.json"):
                self.violations.append(f"{key} written before any playlist")
            return
        full = parse_playlist(playlist.decode()).segments
        for seg in full:
            if f"{space}/{seg.uri}" not in self.objects:
                self.violations.append(f"after writing {key}: playlist names missing {seg.uri}")
        live = self.objects.get(f"{space}/live.m3u8")
        if live is not None:
            named = {seg.uri for seg in full}
            for seg in parse_playlist(live.decode()).segments:
                if seg.uri not in named:
                    self.violations.append(
                        f"after writing {key}: the live window names {seg.uri} before the full playlist"
                    )
        for name, twin in (("live-lo.m3u8", low_twin), ("live-audio.m3u8", audio_twin)):
            window = self.objects.get(f"{space}/{name}")
            if window is None:
                continue
            twins = {twin(seg.uri) for seg in full}
            for seg in parse_playlist(window.decode()).segments:
                if f"{space}/{seg.uri}" not in self.objects or seg.uri not in twins:
                    self.violations.append(f"after writing {key}: {name} names {seg.uri}")
        for name in ("live-variants.m3u8", "index-variants.m3u8"):
            variants = self.objects.get(f"{space}/{name}")
            if variants is None or not variants.startswith(b"#EXTM3U\n#EXT-X-VERSION"):
                continue  # the tests' stand-in variants name nothing
            for line in variants.decode().splitlines():
                # The live variants go just before the main window, in the same pass (publisher.py).
                if not line or line.startswith("#") or line == "live.m3u8":
                    continue
                if f"{space}/{line}" not in self.objects:
                    self.violations.append(f"after writing {key}: {name} names {line}, not written")
