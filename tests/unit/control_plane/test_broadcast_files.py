"""Local mode serves SPACES_BROADCAST_DIR at /broadcast/: the broadcast layout only, with the cache
headers of the CDN, CORS for the web origin, no listing and no way out of the directory."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contract import names
from functions.api.main import create_app
from functions.core.config import Settings

SPACE = "0123456789abcdef0123456789abcdef"
SECRET = b"outside the broadcast directory"
LIVE_PLAYLIST = (
    b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:1\n"
    b"#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PROGRAM-DATE-TIME:2026-12-01T20:00:00.000Z\n"
    b"#EXTINF:1.000,\n1764619200000-0.ts\n"
)


@pytest.fixture
def broadcast_dir(tmp_path: Path) -> Path:
    root = tmp_path / "broadcast"
    space = root / SPACE
    space.mkdir(parents=True)
    (space / names.BROADCAST_PLAYLIST).write_bytes(LIVE_PLAYLIST)
    (space / "1764619200000-0.ts").write_bytes(b"\x47" * 188 * 4)
    (space / names.BROADCAST_TIMELINE).write_text(
        json.dumps({"space_id": SPACE, "started_at": 1764619200, "ended": False, "entries": []})
    )
    (space / "notes.txt").write_text("not part of the layout")
    (space / ".index.m3u8.tmp").write_bytes(b"half written")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "secret.ts").write_bytes(SECRET)
    (space / "escape.ts").symlink_to(tmp_path / "secret.ts")
    return root


@pytest.fixture
def local_app(settings: Settings, broadcast_dir: Path) -> FastAPI:
    return create_app(settings.model_copy(update={"broadcast_dir": str(broadcast_dir)}))


@pytest.fixture
def files(local_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(local_app, base_url="http://127.0.0.1") as c:
        yield c


def test_segments_are_immutable(files: TestClient) -> None:
    resp = files.get(f"/broadcast/{SPACE}/1764619200000-0.ts")
    assert resp.status_code == 200 and resp.content == b"\x47" * 188 * 4
    assert resp.headers["content-type"] == "video/mp2t"
    assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_the_live_playlist_and_timeline_expire_in_a_second_and_closed_ones_later(
    files: TestClient, broadcast_dir: Path
) -> None:
    playlist = f"/broadcast/{SPACE}/{names.BROADCAST_PLAYLIST}"
    timeline = f"/broadcast/{SPACE}/{names.BROADCAST_TIMELINE}"
    live = files.get(playlist)
    assert live.status_code == 200 and live.content == LIVE_PLAYLIST
    assert live.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert live.headers["cache-control"] == "public, max-age=0, s-maxage=1"
    assert files.get(timeline).headers["cache-control"] == "public, max-age=0, s-maxage=1"
    assert files.get(timeline).headers["content-type"] == "application/json"

    (broadcast_dir / SPACE / names.BROADCAST_PLAYLIST).write_bytes(LIVE_PLAYLIST + b"#EXT-X-ENDLIST\n")
    doc = json.loads((broadcast_dir / SPACE / names.BROADCAST_TIMELINE).read_text())
    (broadcast_dir / SPACE / names.BROADCAST_TIMELINE).write_text(json.dumps({**doc, "ended": True}))
    closed = files.get(playlist)
    assert closed.content.endswith(b"#EXT-X-ENDLIST\n")
    assert closed.headers["cache-control"] == "public, max-age=60"
    assert files.get(timeline).headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize(
    "name",
    [
        names.BROADCAST_LOW_LIVE_PLAYLIST,
        names.BROADCAST_AUDIO_LIVE_PLAYLIST,
        names.BROADCAST_LIVE_VARIANTS,
        names.BROADCAST_LOW_PLAYLIST,
        names.BROADCAST_AUDIO_PLAYLIST,
    ],
)
def test_every_renditions_playlist_is_served_as_the_cdn_would(
    files: TestClient, broadcast_dir: Path, name: str
) -> None:
    (broadcast_dir / SPACE / name).write_bytes(LIVE_PLAYLIST)
    resp = files.get(f"/broadcast/{SPACE}/{name}")
    assert resp.status_code == 200 and resp.content == LIVE_PLAYLIST
    assert resp.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert resp.headers["cache-control"] == "public, max-age=0, s-maxage=1"
    for suffix in (".av.ts", ".lo.ts", ".au.ts"):  # every rendition's segments
        (broadcast_dir / SPACE / f"1764619200000-0{suffix}").write_bytes(b"\x47" * 188)
        segment = files.get(f"/broadcast/{SPACE}/1764619200000-0{suffix}")
        assert segment.status_code == 200 and segment.headers["content-type"] == "video/mp2t"


def test_a_timeline_that_does_not_parse_is_served_as_live(files: TestClient, broadcast_dir: Path) -> None:
    (broadcast_dir / SPACE / names.BROADCAST_TIMELINE).write_text('{"ended": tru')
    resp = files.get(f"/broadcast/{SPACE}/{names.BROADCAST_TIMELINE}")
    assert resp.status_code == 200 and resp.headers["cache-control"] == "public, max-age=0, s-maxage=1"


def test_state_json_is_served_live_then_closed_with_the_space(files: TestClient, broadcast_dir: Path) -> None:
    path = broadcast_dir / SPACE / names.BROADCAST_STATE
    path.write_text(json.dumps({"space_id": SPACE, "state": "live", "speakers": ["a"]}))
    live = files.get(f"/broadcast/{SPACE}/{names.BROADCAST_STATE}")
    assert live.status_code == 200 and live.json()["speakers"] == ["a"]
    assert live.headers["cache-control"] == "public, max-age=0, s-maxage=1"
    assert live.headers["content-type"] == "application/json"
    path.write_text(json.dumps({"space_id": SPACE, "state": "ended"}))
    assert (
        files.get(f"/broadcast/{SPACE}/{names.BROADCAST_STATE}").headers["cache-control"]
        == "public, max-age=60"
    )


def test_cors_lets_the_web_origin_read_the_broadcast(files: TestClient) -> None:
    url = f"/broadcast/{SPACE}/{names.BROADCAST_PLAYLIST}"
    allowed = files.get(url, headers={"Origin": "https://web.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://web.example"
    other = files.get(url, headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    "path",
    [
        "/broadcast/",
        "/broadcast",
        f"/broadcast/{SPACE}",
        f"/broadcast/{SPACE}/",
        f"/broadcast/{SPACE}/..%2F..%2Fsecret.txt",
        f"/broadcast/{SPACE}/..%2Fsecret.ts",
        f"/broadcast/{SPACE}/%2e%2e%2fsecret.ts",
        f"/broadcast/{SPACE}/..%5C..%5Csecret.txt",
        f"/broadcast/{SPACE}/%2e%2e",
        f"/broadcast/{SPACE}/.",
        "/broadcast/..%2F..%2F/secret.txt",
        "/broadcast/%2e%2e/secret.ts",
        f"/broadcast/{SPACE}/.index.m3u8.tmp",  # a sink's temporary file
        f"/broadcast/{SPACE}/notes.txt",  # not part of the layout
        f"/broadcast/{SPACE}/escape.ts",  # a symlink out of the directory
        f"/broadcast/{SPACE}/index.m3u8%00.ts",
        f"/broadcast/{SPACE}/missing-0.ts",
        f"/broadcast/{SPACE.upper()}/index.m3u8",
        f"/broadcast/{'f' * 32}/index.m3u8",
        f"/broadcast/{SPACE}/{'a' * 300}.ts",
    ],
)
def test_nothing_outside_the_layout_is_served(files: TestClient, path: str) -> None:
    resp = files.get(path)
    assert resp.status_code == 404, (path, resp.status_code, resp.content[:80])
    assert SECRET not in resp.content
    if path != "/broadcast":
        assert resp.json()["rule"] == "broadcast_file_not_found"


def asgi_get(app: FastAPI, raw_path: str) -> tuple[int, bytes]:
    """One GET with the path exactly as given (HTTP clients normalise `..` before sending)."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    # Not asyncio.run: it leaves the thread without a current loop, which later tests rely on.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(app(scope, receive, send))
    finally:
        loop.close()
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


@pytest.mark.parametrize(
    "raw_path",
    [
        f"/broadcast/{SPACE}/../../secret.txt",
        f"/broadcast/{SPACE}/../../secret.ts",
        f"/broadcast/{SPACE}/..",
        "/broadcast/../secret.ts",
        f"/broadcast/{SPACE}/./index.m3u8/..",
        f"/broadcast/{SPACE}//etc/passwd",
        "/broadcast/" + "../" * 8 + "etc/passwd",
    ],
)
def test_dot_segments_sent_as_is_do_not_escape(local_app: FastAPI, raw_path: str) -> None:
    status, body = asgi_get(local_app, raw_path)
    assert status == 404, (raw_path, status, body[:80])
    assert SECRET not in body and b"root:" not in body


def test_the_route_exists_only_in_local_mode_with_a_directory(
    settings: Settings, broadcast_dir: Path
) -> None:
    path = f"/broadcast/{SPACE}/{names.BROADCAST_PLAYLIST}"
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as without_dir:
        assert without_dir.get(path).status_code == 404
    cloud = Settings.model_validate(
        {
            "SPACES_MODE": "cloud",
            "LIVEKIT_API_KEY": "k",
            "LIVEKIT_API_SECRET": "s" * 32,
            "SPACES_BROADCAST_DIR": str(broadcast_dir),
        }
    )
    with TestClient(create_app(cloud), base_url="http://127.0.0.1") as in_cloud:
        assert in_cloud.get(path).status_code == 404


@pytest.mark.parametrize("name", [names.BROADCAST_PLAYLIST, names.BROADCAST_TIMELINE, "1764619200000-0.ts"])
def test_head_answers_like_get_without_a_body(files: TestClient, name: str) -> None:
    """CDNs and players send HEAD; it answers the GET's status and headers, no body."""
    get = files.get(f"/broadcast/{SPACE}/{name}")
    head = files.head(f"/broadcast/{SPACE}/{name}")
    assert head.status_code == 200 and head.content == b""
    for header in ("content-type", "cache-control", "content-length"):
        assert head.headers[header] == get.headers[header]


def test_head_of_a_missing_file_is_the_same_404(files: TestClient) -> None:
    assert files.head(f"/broadcast/{SPACE}/1764619200000-9.ts").status_code == 404
    assert files.head(f"/broadcast/{SPACE}/../secret.txt").status_code == 404


def test_a_range_of_a_segment_is_partial_content(files: TestClient) -> None:
    """CloudFront and players may ask for part of a segment."""
    part = files.get(f"/broadcast/{SPACE}/1764619200000-0.ts", headers={"Range": "bytes=0-187"})
    assert part.status_code == 206 and part.content == b"\x47" * 188
    assert part.headers["cache-control"] == "public, max-age=31536000, immutable"
    beyond = files.get(f"/broadcast/{SPACE}/1764619200000-0.ts", headers={"Range": "bytes=99999-"})
    assert beyond.status_code == 416


def test_other_methods_are_refused_with_405(files: TestClient) -> None:
    for method in ("POST", "PUT", "DELETE"):
        resp = files.request(method, f"/broadcast/{SPACE}/{names.BROADCAST_PLAYLIST}")
        assert resp.status_code == 405


def test_reactions_json_is_served_live(files: TestClient, broadcast_dir: Path) -> None:
    (broadcast_dir / SPACE / names.BROADCAST_REACTIONS).write_text(
        json.dumps({"space_id": SPACE, "bursts": []})
    )
    resp = files.get(f"/broadcast/{SPACE}/{names.BROADCAST_REACTIONS}")
    assert resp.status_code == 200 and resp.json() == {"space_id": SPACE, "bursts": []}
    assert resp.headers["cache-control"] == "public, max-age=0, s-maxage=1"


def test_the_recordings_multivariant_playlist_is_served_closed(
    files: TestClient, broadcast_dir: Path
) -> None:
    """It holds no ENDLIST (a multivariant playlist never does) but is written once, as the Space
    ends: cached as the closed playlists are, as the composer's S3 sink stores it."""
    variants = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1200000\nindex.m3u8\n"
    (broadcast_dir / SPACE / names.BROADCAST_VARIANTS).write_bytes(variants)
    resp = files.get(f"/broadcast/{SPACE}/{names.BROADCAST_VARIANTS}")
    assert resp.status_code == 200 and resp.content == variants
    assert resp.headers["cache-control"] == "public, max-age=60"


def test_a_poll_for_an_unchanged_document_is_a_304_and_a_changed_one_is_sent(
    files: TestClient, broadcast_dir: Path
) -> None:
    playlist = f"/broadcast/{SPACE}/{names.BROADCAST_PLAYLIST}"
    first = files.get(playlist)
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.md5(LIVE_PLAYLIST, usedforsecurity=False).hexdigest()}"'
    again = files.get(playlist, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == first.headers["cache-control"]
    assert files.get(playlist, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert files.get(playlist, headers={"If-None-Match": "*"}).status_code == 304
    assert files.get(playlist, headers={"If-None-Match": '"other"'}).status_code == 200

    (broadcast_dir / SPACE / names.BROADCAST_PLAYLIST).write_bytes(LIVE_PLAYLIST + b"#EXTINF:1.000,\nb.ts\n")
    changed = files.get(playlist, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.content.endswith(b"b.ts\n")
    assert changed.headers["etag"] != etag
    # HEAD validates the same way (no body either way).
    assert files.head(playlist, headers={"If-None-Match": changed.headers["etag"]}).status_code == 304
