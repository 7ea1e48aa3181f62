"""The avatar proxy (GET /avatars): what it answers, what it refuses, what it keeps. The fetch itself
is faked here; tests/integration/control_plane/test_avatar_proxy_live.py fetches from a real server."""

from __future__ import annotations

import io

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from contract import names
from contract.avatar_fetch import AVATAR_KEEP_SIDE, AvatarPolicy, AvatarRefused
from functions.core.config import Settings
from functions.usecases import avatars
from functions.usecases.avatars import USER_AGENT, AvatarProxy, AvatarUnavailable

POLICY = AvatarPolicy(hosts=frozenset({"img.example.com"}))
PICTURE = "https://img.example.com/me.png"


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A picture whose centre is `colour` and whose left and right thirds are black."""
    image = Image.new("RGB", (width, height), (0, 0, 0))
    image.paste(colour, (width // 3, 0, width - width // 3, height))
    # Metadata of the original (where it was taken, by whom) must not reach the viewer.
    exif = Image.Exif()
    exif[0x010E] = "taken at home, 51.5N 0.1W"  # ImageDescription
    out = io.BytesIO()
    image.save(out, format="PNG", exif=exif.tobytes())
    return out.getvalue()


class Fetches:
    def __init__(self, answer: bytes | Exception) -> None:
        self.answer = answer
        self.urls: list[str] = []
        self.policies: list[AvatarPolicy] = []

    def __call__(self, url: str, policy: AvatarPolicy) -> bytes:
        self.urls.append(url)
        self.policies.append(policy)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_picture_comes_back_as_its_centre_square_in_webp_at_most_256_px() -> None:
    fetches = Fetches(png(900, 300))
    picture = AvatarProxy(POLICY, fetcher=fetches).picture(PICTURE)
    with Image.open(io.BytesIO(picture)) as image:
        assert image.format == "WEBP"
        assert image.size == (AVATAR_KEEP_SIDE, AVATAR_KEEP_SIDE)
        # The centre square of a 900x300 picture is its middle third: all colour, no black.
        r, g, b = image.convert("RGB").getpixel((10, AVATAR_KEEP_SIDE // 2))  # type: ignore[misc]
        assert r > 150 and g < 80 and b < 80
        assert not image.info.get("exif")
    assert b"taken at home" in fetches.answer  # type: ignore[operator]
    assert b"taken at home" not in picture
    assert fetches.urls == [PICTURE]
    # The avatar host sees the proxy, not the composer.
    assert fetches.policies[0].user_agent == USER_AGENT


def test_a_small_picture_is_not_enlarged() -> None:
    picture = AvatarProxy(POLICY, fetcher=Fetches(png(40, 64))).picture(PICTURE)
    with Image.open(io.BytesIO(picture)) as image:
        assert image.size == (40, 40)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://img.example.com/me.png", "scheme 'http'"),
        ("https://other.example.com/me.png", "not in SPACES_AVATAR_HOSTS"),
        ("https://img.example.com:8443/me.png", "port 8443"),
        ("https://user:pw@img.example.com/me.png", "user info"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("not a url", "scheme ''"),
    ],
)
def test_urls_the_policy_refuses_are_never_fetched(url: str, reason: str) -> None:
    fetches = Fetches(png(10, 10))
    with pytest.raises(AvatarRefused, match=reason):
        AvatarProxy(POLICY, fetcher=fetches).picture(url)
    assert fetches.urls == []


def test_with_no_hosts_nothing_is_fetched() -> None:
    fetches = Fetches(png(10, 10))
    with pytest.raises(AvatarRefused, match="avatars are off"):
        AvatarProxy(AvatarPolicy(hosts=frozenset()), fetcher=fetches).picture(PICTURE)
    assert fetches.urls == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a readable image"),
        (AvatarRefused("img.example.com answered 302 (redirects are not followed)"), "answered 302"),
        (ConnectionRefusedError(111, "Connection refused to 203.0.113.9"), "did not answer"),
    ],
)
def test_what_the_host_answers_wrong_is_unavailable_and_says_why(
    answer: bytes | Exception, reason: str
) -> None:
    with pytest.raises(AvatarUnavailable, match=reason) as raised:
        AvatarProxy(POLICY, fetcher=Fetches(answer)).picture(PICTURE)
    # An OSError's own text (addresses) is not passed on.
    assert "203.0.113.9" not in str(raised.value)


def test_answers_are_kept_pictures_an_hour_failures_five_minutes() -> None:
    clock = Clock()
    fetches = Fetches(png(30, 30))
    proxy = AvatarProxy(POLICY, fetcher=fetches, clock=clock)
    first = proxy.picture(PICTURE)
    clock.now += avatars.PICTURE_TTL_S - 1
    assert proxy.picture(PICTURE) == first
    assert len(fetches.urls) == 1
    clock.now += 2
    fetches.answer = OSError("down")
    with pytest.raises(AvatarUnavailable):
        proxy.picture(PICTURE)
    assert len(fetches.urls) == 2
    clock.now += avatars.FAILURE_TTL_S - 1
    with pytest.raises(AvatarUnavailable):
        proxy.picture(PICTURE)
    assert len(fetches.urls) == 2
    clock.now += 2
    fetches.answer = png(30, 30, (20, 200, 20))
    assert proxy.picture(PICTURE) != first
    assert len(fetches.urls) == 3


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(avatars, "CACHE_ENTRIES", 3)
    fetches = Fetches(png(10, 10))
    proxy = AvatarProxy(POLICY, fetcher=fetches)
    for n in range(4):
        proxy.picture(f"{PICTURE}?n={n}")
    proxy.picture(f"{PICTURE}?n=3")  # kept
    proxy.picture(f"{PICTURE}?n=0")  # the oldest, dropped: fetched again
    assert fetches.urls[4:] == [f"{PICTURE}?n=0"]


# ---- the route ---------------------------------------------------------------------------------


def proxied(app: FastAPI, answer: bytes | Exception) -> Fetches:
    fetches = Fetches(answer)
    app.state.avatar_proxy = AvatarProxy(POLICY, fetcher=fetches)
    return fetches


def test_the_route_needs_no_token_and_sends_a_cacheable_webp(app: FastAPI, client: TestClient) -> None:
    proxied(app, png(64, 64))
    resp = client.get(names.AVATAR_PATH, params={names.AVATAR_URL_PARAM: PICTURE})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/webp"
    assert resp.headers["cache-control"] == f"public, max-age={avatars.PICTURE_TTL_S}"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert Image.open(io.BytesIO(resp.content)).format == "WEBP"


def test_the_route_refuses_a_url_off_the_policy_with_a_403_naming_why(
    app: FastAPI, client: TestClient
) -> None:
    fetches = proxied(app, png(64, 64))
    for url, why in (
        ("https://tracker.example/pixel.gif", "'tracker.example' is not in SPACES_AVATAR_HOSTS"),
        ("http://img.example.com/me.png", "scheme 'http'"),
        ("https://img.example.com:99999/me.png", "not a URL"),
    ):
        resp = client.get(names.AVATAR_PATH, params={"url": url})
        assert resp.status_code == 403, url
        assert resp.json()["rule"] == "avatar_url_refused"
        assert why in resp.json()["detail"]
    assert fetches.urls == []


def test_the_route_names_a_malformed_url_in_a_422(app: FastAPI, client: TestClient) -> None:
    fetches = proxied(app, png(64, 64))
    for params in (
        {},
        {"url": ""},
        {"url": "img.example.com/me.png"},
        {"url": "javascript:alert(1)"},
        {"url": "https:///me.png"},
        {"url": "https://img.example.com/a b.png"},
        {"url": "https://img.example.com/" + "a" * 1024},
    ):
        resp = client.get(names.AVATAR_PATH, params=params)
        assert resp.status_code == 422
        assert resp.json()["detail"][0]["loc"] == ["query", "url"]
    assert fetches.urls == []


def test_the_route_answers_502_when_the_host_fails(app: FastAPI, client: TestClient) -> None:
    proxied(app, b"not an image")
    resp = client.get(names.AVATAR_PATH, params={"url": PICTURE})
    assert resp.status_code == 502
    assert resp.json()["rule"] == "avatar_unavailable"
    assert resp.headers["cache-control"] == f"public, max-age={avatars.FAILURE_TTL_S}"


def test_the_settings_choose_the_hosts_and_local_mode_adds_http(settings: Settings) -> None:
    assert settings.avatar_policy.allow_private
    cloud = Settings(
        SPACES_MODE="cloud",
        SPACES_AVATAR_HOSTS="a.example, *.b.example",
        LIVEKIT_SECRET_ARN="arn:aws:secretsmanager:eu-west-1:1:secret:x",
    )
    assert cloud.avatar_policy.hosts == frozenset({"a.example", "*.b.example"})
    assert not cloud.avatar_policy.allow_private
    assert Settings(SPACES_AVATAR_HOSTS="").avatar_policy.hosts == frozenset()
