"""A tiny HLS origin that counts every request per path: what S3 is behind CloudFront.

It serves a broadcast directory with the cache metadata the composer's sink puts on each object
(composer/hls/headers.py: segments immutable, live playlist and timeline `max-age=0, s-maxage=1`,
a closed playlist `max-age=60`), answers conditional requests (ETag / Last-Modified -> 304) like S3 does, and
reports per path how many requests it answered with which status:

    GET /_origin/stats   -> {"requests": {"/live/index.m3u8": {"200": 3, "304": 9}, ...}}
    POST /_origin/reset  -> zeroes the counters

Run it in its own process so that a load generator never shares its event loop:

    python -m tests.support.hls_origin --root DIR --port 8081
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections import defaultdict
from collections.abc import Iterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from aiohttp import web

from composer.hls.headers import CLOSED_CACHE_CONTROL as CLOSED
from composer.hls.headers import LIVE_CACHE_CONTROL as LIVE
from composer.hls.headers import SEGMENT_CACHE_CONTROL as IMMUTABLE
from devstack.ports import free_port
from devstack.processes import ManagedProcess, tcp_open


def cache_control(name: str, body: bytes) -> str:
    """Cache metadata per object, as the broadcast layout sets it on upload."""
    if name.endswith(".ts") or name.endswith(".m4s") or name.endswith(".mp4"):
        return IMMUTABLE
    if name.endswith(".m3u8") and b"#EXT-X-ENDLIST" in body:
        return CLOSED
    return LIVE


CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
}


def make_app(root: Path) -> web.Application:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"requests": counts})

    async def reset(_: web.Request) -> web.Response:
        counts.clear()
        return web.json_response({"ok": True})

    async def serve(request: web.Request) -> web.StreamResponse:
        rel = request.match_info["path"]
        path = (root / rel).resolve()
        status = 404
        try:
            if root.resolve() not in path.parents or not path.is_file():
                return web.Response(status=404, headers={"Cache-Control": "no-store"})
            st = path.stat()
            body = path.read_bytes()
            etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
            headers = {
                "Cache-Control": cache_control(path.name, body),
                "ETag": etag,
                "Last-Modified": formatdate(st.st_mtime, usegmt=True),
                "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            }
            inm = request.headers.get("If-None-Match")
            ims = request.headers.get("If-Modified-Since")
            not_modified = (
                inm == etag
                if inm is not None
                else (ims is not None and _not_modified_since(ims, st.st_mtime))
            )
            if not_modified:
                status = 304
                return web.Response(status=304, headers=headers)
            status = 200
            return web.Response(body=body, headers=headers)
        finally:
            counts[request.path][str(status)] += 1

    app = web.Application()
    app.router.add_get("/_origin/stats", stats)
    app.router.add_post("/_origin/reset", reset)
    app.router.add_get("/{path:.+}", serve)
    return app


def _not_modified_since(header: str, mtime: float) -> bool:
    try:
        return int(mtime) <= parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return False


@contextlib.contextmanager
def origin_process(root: Path, port: int | None = None) -> Iterator[str]:
    """Start the origin in its own process; yields its base URL and stops it on exit."""
    port = port or free_port()
    proc = ManagedProcess(
        "hls-origin",
        [sys.executable, "-m", "tests.support.hls_origin", "--root", str(root), "--port", str(port)],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        proc.wait_until(tcp_open(port), timeout=15, what="listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    web.run_app(make_app(args.root), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
