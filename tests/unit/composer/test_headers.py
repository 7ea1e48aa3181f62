"""Cache metadata per broadcast object: segments immutable, playlists short-lived until closed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from composer.hls import cache_headers

ROOT = Path(__file__).resolve().parents[3]
YEAR_IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.mark.parametrize("closed", [False, True])
@pytest.mark.parametrize("name", ["1764619200000-0.ts", "space-1/1764619200000-41.ts"])
def test_segments_are_immutable_whether_or_not_the_playlist_is_closed(name: str, closed: bool) -> None:
    assert cache_headers(name, closed) == {"Content-Type": "video/mp2t", "Cache-Control": YEAR_IMMUTABLE}


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("index.m3u8", "application/vnd.apple.mpegurl"), ("space-1/timeline.json", "application/json")],
)
def test_live_playlist_and_timeline_last_a_second_closed_ones_a_minute(name: str, content_type: str) -> None:
    assert cache_headers(name, False) == {
        "Content-Type": content_type,
        "Cache-Control": "public, max-age=0, s-maxage=1",
    }
    assert cache_headers(name, True) == {"Content-Type": content_type, "Cache-Control": "public, max-age=60"}


@pytest.mark.parametrize("name", ["index.html", "1000-0.ts.tmp", ".index.m3u8.x1.tmp", ""])
def test_anything_else_is_not_a_broadcast_object(name: str) -> None:
    with pytest.raises(ValueError, match="not a broadcast object"):
        cache_headers(name, False)


def test_the_control_plane_can_import_cache_headers_without_the_codecs() -> None:
    # A fresh interpreter: this test process has PyAV loaded already by other tests.
    code = (
        "import sys; from composer.hls import cache_headers, is_closed; "
        "assert 'av' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
