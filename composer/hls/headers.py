"""HTTP metadata of each broadcast object, derived from its name alone.

The S3 sink stores it on the object; the local static route of the control plane answers with it.
One function, so a CDN in the cloud and the dev server behave the same.
"""

from __future__ import annotations

SEGMENT_CONTENT_TYPE = "video/mp2t"
PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"
TIMELINE_CONTENT_TYPE = "application/json"

# A segment name carries its composer's epoch and never changes content: cache it for a year.
SEGMENT_CACHE_CONTROL = "public, max-age=31536000, immutable"
# A live playlist changes every segment. A shared cache (the CDN edge) keeps it for 1 s
# (`s-maxage`): at most one segment behind, and every viewer's poll within that second collapses
# into one origin request. A browser must not keep it at all (`max-age=0`): with `max-age=1` the
# browser's own cache could answer hls.js' half-second reloads with the copy it had, up to another
# second of delay (docs/bench/broadcast.md section 5); with 0 it asks the edge every time, which
# answers from its cache (a 304 when nothing changed).
LIVE_CACHE_CONTROL = "public, max-age=0, s-maxage=1"
# A closed playlist (and its timeline) no longer changes, but a replacement composer racing the end
# could still rewrite it, so it is cached for a minute rather than forever.
CLOSED_CACHE_CONTROL = "public, max-age=60"


def cache_headers(name: str, closed: bool) -> dict[str, str]:
    """Content-Type and Cache-Control for a broadcast object (`closed`: the playlist has ENDLIST).

    `name` is the object's file name or path; ValueError for a name that is not a broadcast object.
    """
    base = name.rsplit("/", 1)[-1]
    if base.endswith(".ts"):
        return {"Content-Type": SEGMENT_CONTENT_TYPE, "Cache-Control": SEGMENT_CACHE_CONTROL}
    if base.endswith(".m3u8"):
        content_type = PLAYLIST_CONTENT_TYPE
    elif base.endswith(".json"):
        content_type = TIMELINE_CONTENT_TYPE
    else:
        raise ValueError(f"not a broadcast object (expected .ts, .m3u8 or .json): {name!r}")
    return {
        "Content-Type": content_type,
        "Cache-Control": CLOSED_CACHE_CONTROL if closed else LIVE_CACHE_CONTROL,
    }
