"""Local mode only: the broadcasts the composer writes to SPACES_BROADCAST_DIR, served at
`/broadcast/<space_id>/<file>` with the cache headers the CDN serves in the cloud.

Only files of the broadcast layout are served: a Space id, then one plain file name with a known
extension. No directory listing, no other path: a name with a separator, a leading dot or an
unknown extension is refused before the disk is touched, and the resolved path must still lie inside
the directory (a symlink pointing out of it is refused too).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

# The composer's sinks set the same headers on the objects they write (S3 metadata the CDN serves):
# one function, so `make dev` and the cloud answer alike. Light (no PyAV, no NumPy); local mode only.
from composer.hls.headers import cache_headers
from composer.hls.playlist import is_closed
from contract import names
from contract.room_metadata import parse_room_metadata

from ..deps import SettingsDep
from ..problems import problem
from ..schemas import SPACE_ID_PATTERN

router = APIRouter(prefix="/broadcast", tags=["broadcast"], include_in_schema=False)

_SPACE_ID = re.compile(SPACE_ID_PATTERN)
# Plain names only: no separators, no leading dot (the sinks' temporary files), at most 128 characters.
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
SEGMENT_SUFFIX = ".ts"
_PLAYLISTS = (
    names.BROADCAST_PLAYLIST,
    names.BROADCAST_LIVE_PLAYLIST,
    names.BROADCAST_LOW_LIVE_PLAYLIST,
    names.BROADCAST_LIVE_VARIANTS,
    names.BROADCAST_LOW_PLAYLIST,
    names.BROADCAST_VARIANTS,
    names.BROADCAST_AUDIO_LIVE_PLAYLIST,
    names.BROADCAST_AUDIO_PLAYLIST,
)
_DOCUMENTS = (*_PLAYLISTS, names.BROADCAST_TIMELINE, names.BROADCAST_STATE, names.BROADCAST_REACTIONS)
_NAMES_SERVED = f"{', '.join(_DOCUMENTS)} or *{SEGMENT_SUFFIX}"


# HEAD too: CDNs and players probe a file's size and freshness with it (CloudFront answers HEAD
# from S3 the same way); a GET-only route would answer 405 to them.
@router.api_route("/{space_id}/{name}", methods=["GET", "HEAD"])
async def broadcast_file(space_id: str, name: str, request: Request, settings: SettingsDep) -> Response:
    if settings.broadcast_dir is None or not _SPACE_ID.match(space_id) or not _FILE_NAME.match(name):
        return _not_found()
    if name not in _DOCUMENTS and not name.endswith(SEGMENT_SUFFIX):
        return _not_found()
    root = Path(settings.broadcast_dir).resolve()
    path = (root / space_id / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return _not_found()
    if name.endswith(SEGMENT_SUFFIX):
        headers = cache_headers(name, closed=False)
        media_type = headers.pop("Content-Type")
        return FileResponse(path, media_type=media_type, headers=headers)
    # Read once and answer from memory: the composer replaces the playlist and the timeline
    # atomically, and a streamed file could change between its size and its bytes.
    try:
        body = path.read_bytes()
    except OSError:  # replaced or removed since the check: as if it were not there yet
        return _not_found()
    if name == names.BROADCAST_VARIANTS:
        closed = True  # the recording's, written once as the Space ends (composer/hls/publisher.py)
    elif name in _PLAYLISTS:
        closed = is_closed(body.decode("utf-8", errors="replace"))
    elif name == names.BROADCAST_STATE:
        closed = parse_room_metadata(body).state == "ended"
    elif name == names.BROADCAST_REACTIONS:
        closed = False  # rewritten while reactions come; an old feed is filtered by its windows
    else:
        closed = _timeline_ended(body)
    headers = cache_headers(name, closed=closed)
    # Validated as S3 and the CDN validate it: the ETag is the body's MD5 (S3's for a single put),
    # and a poll that names it is a 304 without the body while the file has not changed.
    headers["ETag"] = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
    content_type = headers.pop("Content-Type")
    wanted = _etags(request.headers.get("if-none-match", ""))
    if headers["ETag"] in wanted or "*" in wanted:  # "*": any current version (RFC 9110 13.1.2)
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=content_type, headers=headers)


def _etags(header: str) -> set[str]:
    """The entity tags an If-None-Match names (weak ones compare as strong, RFC 9110 13.1.2)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


@router.api_route("/{rest:path}", methods=["GET", "HEAD"])
async def anything_else(rest: str) -> Response:
    """Listings, nested paths, dot segments: the same clear 404 as a missing file."""
    return _not_found()


def _timeline_ended(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("ended") is True


def _not_found() -> JSONResponse:
    return problem(
        404,
        "broadcast_file_not_found",
        f"no such broadcast file: /broadcast/<space id>/<{_NAMES_SERVED}>",
        {"Cache-Control": "no-store"},
    )
