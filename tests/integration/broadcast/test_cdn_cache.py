"""The broadcast's cache headers do what the CDN needs, through a real caching proxy (nginx).

A real MPEG-TS segment (PyAV) and a live EVENT playlist are served by a counting origin with the
broadcast layout's cache metadata; Debian's nginx with proxy_cache stands where CloudFront does.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.broadcast.live_source import SourceConfig, run
from tests.support.eventually import eventually
from tests.support.hls_origin import origin_process
from tests.support.nginx_cdn import nginx_cdn


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    root = tmp_path_factory.mktemp("origin")
    live = root / "space1"
    run(SourceConfig(out=live, video=False), seconds=1.5)
    with origin_process(root) as origin, nginx_cdn(origin, tmp_path_factory.mktemp("nginx")) as cdn:
        yield origin, cdn, live


def origin_counts(origin: str, path: str) -> dict[str, int]:
    stats = httpx.get(f"{origin}/_origin/stats").json()["requests"]
    return dict(stats.get(path, {}))


def live_playlist(segments: list[str]) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
    ]
    for i, name in enumerate(segments):
        lines += [f"#EXT-X-PROGRAM-DATE-TIME:2026-12-01T20:00:0{i}.000Z", "#EXTINF:1.000,", name]
    return "\n".join(lines) + "\n"


async def test_concurrent_misses_of_a_segment_reach_the_origin_once(edge: tuple[str, str, Path]) -> None:
    origin, cdn, live = edge
    segment = sorted(live.glob("*.ts"))[0]
    path = f"/space1/{segment.name}"
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as client:
        answers = await asyncio.gather(*(client.get(cdn + path) for _ in range(40)))
    assert {r.status_code for r in answers} == {200}
    assert all(r.content == segment.read_bytes() for r in answers)
    assert answers[0].headers["cache-control"] == "public, max-age=31536000, immutable"
    assert origin_counts(origin, path) == {"200": 1}

    again = httpx.get(cdn + path)
    assert again.headers["x-cache"] == "HIT"
    assert origin_counts(origin, path) == {"200": 1}


def test_live_playlist_is_revalidated_then_refreshed(edge: tuple[str, str, Path]) -> None:
    origin, cdn, live = edge
    names = [p.name for p in sorted(live.glob("*.ts"))]
    playlist = live / "live.m3u8"
    playlist.write_text(live_playlist(names[:1]))
    path = "/space1/live.m3u8"

    first = httpx.get(cdn + path)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "public, max-age=0, s-maxage=1"
    assert origin_counts(origin, path) == {"200": 1}

    # Unchanged at the origin: once max-age runs out, the edge asks with a validator and the
    # origin answers 304 (no body), the edge keeps serving the same bytes.
    def revalidated() -> httpx.Response:
        r = httpx.get(cdn + path)
        assert r.headers["x-cache"] == "REVALIDATED", r.headers["x-cache"]
        return r

    r = eventually(revalidated, timeout=10, what="edge revalidates the expired playlist")
    assert r.text == first.text
    assert origin_counts(origin, path) == {"200": 1, "304": 1}

    # The composer appends a segment (atomic replace, as the sinks do): the next expiry fetches it.
    tmp = live / "live.m3u8.tmp"
    tmp.write_text(live_playlist(names[:2]))
    os.replace(tmp, playlist)

    def refreshed() -> httpx.Response:
        r = httpx.get(cdn + path)
        assert names[1] in r.text
        return r

    eventually(refreshed, timeout=10, what="edge serves the grown playlist")
    assert origin_counts(origin, path)["200"] == 2
