"""What the composer fetches for an avatar, and what it draws: the SSRF policy, decoding, the cache.

The fetch over real sockets and TLS is tested in tests/integration/composer/test_avatar_fetch.py.
"""

from __future__ import annotations

import io
import threading
import time
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from composer.avatars import AVATAR_REFRESH_S, AVATAR_RETRY_S, AvatarCache, circle
from composer.layout import Geometry, Speaker, compose, identity_colour
from composer.render import Renderer
from contract import names
from contract.avatar_fetch import (
    AVATAR_KEEP_SIDE,
    DEFAULT_HOSTS,
    JPEG_MAX_SCANS,
    AvatarPolicy,
    AvatarRefused,
    address_allowed,
    check_url,
    decode,
    fetch,
    pinned_address,
    policy_from_env,
)
from contract.stage import StageState
from tests.support.eventually import eventually

CLOUD = AvatarPolicy(hosts=frozenset({"img.example.com", "*.gravatar.com"}))
YELLOW = (230, 200, 20)


def image_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64), fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


# -- the URL ---------------------------------------------------------------------------------------


def test_an_https_url_on_an_allowed_host_is_split_for_the_request() -> None:
    assert check_url("https://img.example.com/a/b.png?s=96", CLOUD) == (
        "https",
        "img.example.com",
        443,
        "/a/b.png?s=96",
    )
    assert check_url("https://secure.gravatar.com/avatar/1", CLOUD)[1] == "secure.gravatar.com"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://img.example.com/a.png", "scheme 'http'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://img.example.com/", "scheme 'gopher'"),
        ("https://evil.example.net/a.png", "not in SPACES_AVATAR_HOSTS"),
        ("https://gravatar.com/a.png", "not in SPACES_AVATAR_HOSTS"),  # the wildcard needs a label
        ("https://evilgravatar.com/a.png", "not in SPACES_AVATAR_HOSTS"),
        ("https://img.example.com.evil.net/a.png", "not in SPACES_AVATAR_HOSTS"),
        ("https://user:pw@img.example.com/a.png", "user info"),
        ("https://img.example.com:8443/a.png", "port 8443"),
        ("https://[::1/a.png", "not a URL"),
        ("https:///a.png", "no host"),
        ("not a url", "scheme ''"),
        ("https://bücher.example/a.png", "must be ASCII"),
    ],
)
def test_a_url_outside_the_policy_is_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(AvatarRefused, match=reason.replace("[", r"\[")):
        check_url(url, CLOUD)


def test_a_path_that_is_not_ascii_is_sent_percent_encoded() -> None:
    assert check_url("https://img.example.com/é x.png?n=ü", CLOUD)[3] == "/%C3%A9%20x.png?n=%C3%BC"
    assert check_url("https://img.example.com/a%20b.png?s=1&t=2", CLOUD)[3] == "/a%20b.png?s=1&t=2"


def test_a_star_allows_any_host_but_still_only_https() -> None:
    anywhere = AvatarPolicy(hosts=frozenset({"*"}))
    assert check_url("https://cdn.example.org/me.jpg", anywhere)[1] == "cdn.example.org"
    with pytest.raises(AvatarRefused, match="scheme"):
        check_url("http://cdn.example.org/me.jpg", anywhere)


def test_the_environment_chooses_the_hosts_and_local_mode_allows_loopback_http() -> None:
    assert policy_from_env({}).hosts == frozenset(DEFAULT_HOSTS)
    assert not policy_from_env({}).allow_private
    assert not policy_from_env({names.ENV_AVATAR_HOSTS: ""}).enabled
    listed = policy_from_env({names.ENV_AVATAR_HOSTS: " A.example.com, *.cdn.example.com ,"})
    assert listed.hosts == frozenset({"a.example.com", "*.cdn.example.com"})
    local = policy_from_env({names.ENV_MODE: "local", names.ENV_AVATAR_HOSTS: "127.0.0.1"})
    assert local.allow_private
    assert check_url("http://127.0.0.1:8000/a.png", local) == ("http", "127.0.0.1", 8000, "/a.png")


# -- the address -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.3.7",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the instance / task metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fd00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "fd00:ec2::254",  # the IPv6 metadata service
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:1",
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible
        "fec0::1",  # site-local
        "2001:4860:4860::8888",  # public, but the VPC has no IPv6: never used
    ],
)
def test_addresses_inside_a_network_are_refused(address: str) -> None:
    assert not address_allowed(address, allow_private=False)
    assert address_allowed(address, allow_private=True)


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.1.1", "93.184.216.34"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(address, allow_private=False)


def resolving(*addresses: str) -> Callable[[str, int], list[str]]:
    return lambda host, port: list(addresses)


def test_a_name_that_resolves_to_any_private_address_is_refused() -> None:
    policy = AvatarPolicy(hosts=frozenset({"*"}), resolve=resolving("93.184.216.34", "10.0.0.5"))
    with pytest.raises(AvatarRefused, match="resolves to an address that is not public") as refused:
        pinned_address("img.example.com", 443, policy)
    # The reason can reach whoever asked (the API's proxy answers it): not what the name resolves to.
    assert "10.0.0.5" not in str(refused.value)
    public = AvatarPolicy(hosts=frozenset({"*"}), resolve=resolving("93.184.216.34", "151.101.1.1"))
    assert pinned_address("img.example.com", 443, public) == "93.184.216.34"


def test_a_lookup_slower_than_the_deadline_is_given_up() -> None:
    def slow(host: str, port: int) -> list[str]:
        time.sleep(2.0)
        return ["93.184.216.34"]

    policy = AvatarPolicy(hosts=frozenset({"*"}), resolve=slow, deadline_s=0.2)
    with pytest.raises(AvatarRefused, match="did not resolve within 0.2 s"):
        fetch("https://img.example.com/a.png", policy)


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(AvatarRefused, match="does not resolve"):
        pinned_address("nowhere.example", 443, AvatarPolicy(resolve=fail))
    with pytest.raises(AvatarRefused, match="does not resolve"):
        pinned_address("nowhere.example", 443, AvatarPolicy(resolve=resolving()))
    with pytest.raises(AvatarRefused, match="does not resolve"):
        pinned_address("a" * 70 + ".example", 443, AvatarPolicy())  # a label over 63: UnicodeError


# -- the picture -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_an_image_becomes_a_circle_of_the_size_asked(fmt: str) -> None:
    square = decode(image_bytes(YELLOW, (120, 80), fmt), CLOUD)
    assert square.size == (80, 80)
    drawn = circle(square, 41)
    assert drawn.size == (41, 41) and drawn.mode == "RGBA"
    centre = drawn.getpixel((20, 20))
    assert isinstance(centre, tuple)
    assert all(abs(c - e) <= 12 for c, e in zip(centre[:3], YELLOW, strict=True)) and centre[3] == 255
    corner = drawn.getpixel((0, 0))
    assert isinstance(corner, tuple) and corner[3] == 0


def test_a_large_picture_is_kept_small() -> None:
    assert decode(image_bytes(YELLOW, (1200, 900), "JPEG"), CLOUD).size == (AVATAR_KEEP_SIDE,) * 2


def test_what_is_not_a_small_image_is_refused_unread() -> None:
    with pytest.raises(AvatarRefused, match="not a readable image"):
        decode(b"<html>hello</html>", CLOUD)
    with pytest.raises(AvatarRefused, match="not a readable image"):
        decode(image_bytes(YELLOW, fmt="BMP"), CLOUD)  # only the four formats are even tried
    with pytest.raises(AvatarRefused, match="4000x16 is larger than 2048 a side"):
        decode(image_bytes(YELLOW, (4000, 16)), CLOUD)
    with pytest.raises(AvatarRefused, match="not a readable image"):
        decode(image_bytes(YELLOW)[:40], CLOUD)


def test_a_huge_image_header_is_refused_before_its_pixels_are_decoded() -> None:
    # PNGs of one pixel whose headers claim far more: refused from the header (decompression bombs).
    def claiming(side: int) -> bytes:
        data = bytearray(image_bytes(YELLOW, (1, 1)))
        data[16:24] = side.to_bytes(4, "big") * 2  # IHDR width and height
        data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # its CRC: the header reads
        return bytes(data)

    with pytest.raises(AvatarRefused, match="5000x5000 is larger than 2048 a side"):
        decode(claiming(5000), CLOUD)
    with pytest.raises(AvatarRefused, match="decompression bomb"):
        decode(claiming(100000), CLOUD)  # Pillow's own limit, also before any pixel


def progressive_jpeg(extra_scans: int = 0) -> bytes:
    """A real progressive JPEG, its last scan repeated `extra_scans` more times (libjpeg decodes each
    again, warning only: the CPU cost grows with the count)."""
    out = io.BytesIO()
    Image.new("RGB", (512, 384), YELLOW).save(out, format="JPEG", progressive=True, quality=60)
    data = out.getvalue()
    assert data.endswith(b"\xff\xd9")
    last_scan = data[data.rindex(b"\xff\xda") : -2]
    return data[:-2] + last_scan * extra_scans + data[-2:]


def test_a_progressive_jpeg_of_many_scans_is_refused_before_decoding() -> None:
    # An ordinary progressive JPEG (about ten scans) decodes, at the kept size, yellow.
    square = decode(progressive_jpeg(), CLOUD)
    assert square.size == (AVATAR_KEEP_SIDE,) * 2
    assert all(abs(a - b) < 16 for a, b in zip(square.getpixel((10, 10)), YELLOW, strict=True))  # type: ignore[arg-type]
    with pytest.raises(AvatarRefused, match=f"scans \\(at most {JPEG_MAX_SCANS}\\)"):
        decode(progressive_jpeg(extra_scans=JPEG_MAX_SCANS), CLOUD)


# -- the cache -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_fetches_once_in_the_background_and_then_has_the_picture() -> None:
    calls: list[str] = []
    release = threading.Event()

    def fetcher(url: str, policy: AvatarPolicy) -> bytes:
        calls.append(url)
        release.wait(5)
        return image_bytes(YELLOW)

    cache = AvatarCache(CLOUD, fetcher=fetcher)
    try:
        assert cache.get("https://img.example.com/a.png", 40) is None  # not waited for
        assert cache.get("https://img.example.com/a.png", 40) is None
        release.set()
        eventually(lambda: cache.get("https://img.example.com/a.png", 40) is not None, what="the picture")
        assert cache.get("https://img.example.com/a.png", 90) is not None  # one fetch for every size
        assert calls == ["https://img.example.com/a.png"]
        assert cache.generation == 1
    finally:
        cache.close()


def test_a_refused_url_is_not_asked_for_again_until_the_retry_time() -> None:
    calls: list[str] = []
    clock = Clock()

    def fetcher(url: str, policy: AvatarPolicy) -> bytes:
        calls.append(url)
        raise AvatarRefused("host 'evil' is not in SPACES_AVATAR_HOSTS")

    cache = AvatarCache(CLOUD, fetcher=fetcher, clock=clock)
    try:
        cache.get("https://evil/a.png", 40)
        eventually(lambda: len(calls) == 1 and cache.generation == 0, what="refused")
        clock.now += AVATAR_RETRY_S - 1
        assert cache.get("https://evil/a.png", 40) is None and len(calls) == 1
        assert cache.generation == 0
        clock.now += 2
        # Due again: the generation moves, so a cached drawing is redone and asks again.
        assert cache.generation == 1
        cache.get("https://evil/a.png", 40)
        eventually(lambda: len(calls) == 2, what="asked again after the retry time")
    finally:
        cache.close()


def test_a_picture_is_refreshed_after_an_hour_and_kept_if_the_refresh_fails() -> None:
    answers = [image_bytes(YELLOW), image_bytes((20, 40, 200)), b"gone"]
    clock = Clock()
    cache = AvatarCache(CLOUD, fetcher=lambda url, policy: answers.pop(0), clock=clock)
    url = "https://img.example.com/a.png"

    def centre() -> tuple[int, ...] | None:
        picture = cache.get(url, 21)
        pixel = picture.getpixel((10, 10)) if picture is not None else None
        return pixel if isinstance(pixel, tuple) else None

    try:
        cache.get(url, 21)
        eventually(lambda: centre() is not None and centre()[0] > 200, what="the first picture")  # type: ignore[index]
        clock.now += AVATAR_REFRESH_S + 1
        eventually(lambda: (c := centre()) is not None and c[2] > 150, what="the new picture at the same URL")
        clock.now += AVATAR_REFRESH_S + 1
        cache.get(url, 21)
        eventually(lambda: not answers, what="the third fetch")
        assert (c := centre()) is not None and c[2] > 150  # a failed refresh keeps the last picture
    finally:
        cache.close()


def test_any_error_of_a_fetch_leaves_initials_and_the_url_retried_later() -> None:
    calls: list[str] = []
    clock = Clock()

    def fetcher(url: str, policy: AvatarPolicy) -> bytes:
        calls.append(url)
        "é".encode("ascii")  # what http.client raised for a path it could not encode
        return b""

    cache = AvatarCache(CLOUD, fetcher=fetcher, clock=clock)
    try:
        cache.get("https://img.example.com/é.png", 40)
        eventually(lambda: len(calls) == 1, what="the fetch")
        clock.now += AVATAR_RETRY_S + 1
        cache.get("https://img.example.com/é.png", 40)
        eventually(lambda: len(calls) == 2, what="not stuck as pending")
    finally:
        cache.close()


def test_asking_after_close_draws_initials() -> None:
    cache = AvatarCache(CLOUD, fetcher=lambda url, policy: image_bytes(YELLOW))
    cache.close()
    assert cache.get("https://img.example.com/a.png", 40) is None


def test_no_fetch_without_a_url_or_with_avatars_off() -> None:
    def fetcher(url: str, policy: AvatarPolicy) -> bytes:
        raise AssertionError(f"fetched {url}")

    on = AvatarCache(CLOUD, fetcher=fetcher)
    off = AvatarCache(AvatarPolicy(hosts=frozenset()), fetcher=fetcher)
    try:
        assert on.get("", 40) is None
        assert off.get("https://img.example.com/a.png", 40) is None
    finally:
        on.close()
        off.close()


# -- drawn -----------------------------------------------------------------------------------------


def test_the_card_and_the_strip_show_the_picture_once_it_has_arrived() -> None:
    geometry = Geometry.for_size(1280, 720)
    cache = AvatarCache(CLOUD, fetcher=lambda url, policy: image_bytes(YELLOW))
    renderer = Renderer(geometry, cache)
    bob = Speaker("bob", "Bob", "speaker", has_camera=False, picture="https://img.example.com/bob.png")
    carol = Speaker("carol", "Carol", "speaker", has_camera=False, picture="https://img.example.com/bob.png")
    dave = Speaker("dave", "Dave", "speaker", has_camera=False)  # no picture: initials
    layout = compose(
        StageState(seq=1, spotlight="bob"), [bob, carol, dave], title="t", video="speakers", geometry=geometry
    )
    try:
        first = renderer.render(layout)
        cx, cy = geometry.big.centre
        card_y = cy - round(geometry.big.h * 0.06)
        assert tuple(first[card_y + 30, cx]) == identity_colour("bob")  # initials until it arrives

        def yellow_card() -> bool:
            frame = renderer.render(layout)
            return bool(np.abs(frame[card_y + 30, cx].astype(int) - YELLOW).max() <= 12)

        eventually(yellow_card, what="bob's picture on the big card")
        frame = renderer.render(layout)
        carol_slot, dave_slot = geometry.strip_slots(2)
        x, y = geometry.avatar_centre(carol_slot)
        assert np.abs(frame[y + 10, x].astype(int) - YELLOW).max() <= 12
        x, y = geometry.avatar_centre(dave_slot)
        assert tuple(frame[y + 10, x]) == identity_colour("dave")
    finally:
        cache.close()


def test_a_frame_drawn_after_the_retry_time_asks_again() -> None:
    """Nothing else changes on the stage: the frame itself brings the retry."""
    geometry = Geometry.for_size(640, 360)
    calls: list[str] = []
    clock = Clock()

    def fetcher(url: str, policy: AvatarPolicy) -> bytes:
        calls.append(url)
        if len(calls) == 1:
            raise OSError("connection reset")
        return image_bytes(YELLOW)

    cache = AvatarCache(CLOUD, fetcher=fetcher, clock=clock)
    renderer = Renderer(geometry, cache)
    bob = Speaker("bob", "Bob", "speaker", has_camera=False, picture="https://img.example.com/bob.png")
    layout = compose(
        StageState(seq=1, spotlight="bob"), [bob], title="t", video="speakers", geometry=geometry
    )
    try:
        renderer.render(layout)
        eventually(lambda: len(calls) == 1 and cache.generation == 0, what="the failed fetch")
        for _ in range(5):
            renderer.render(layout)
        assert len(calls) == 1
        clock.now += AVATAR_RETRY_S + 1
        renderer.render(layout)
        eventually(lambda: len(calls) == 2, what="the retry, from a frame")
    finally:
        cache.close()
