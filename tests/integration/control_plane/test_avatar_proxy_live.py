"""The avatar proxy end to end: the API (uvicorn, local mode) fetches pictures over real TLS from a
stand-in avatar host, and Debian's nginx stands where CloudFront's /avatars behaviour does. What a
viewer's browser would load comes from the edge; the avatar host sees the API only, once per picture."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from PIL import Image

from contract import names
from devstack.ports import free_port
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import api_server
from tests.support.avatar_host import COLOUR, AvatarHost, avatar_host
from tests.support.nginx_cdn import nginx_cdn

API_USER_AGENT = "spaces-api (avatar proxy)"


@dataclass
class Stack:
    edge: str
    api: str
    avatars: AvatarHost


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, livekit_server: LiveKitEndpoint) -> Iterator[Stack]:
    with (
        avatar_host(tmp_path_factory.mktemp("avatar-host")) as avatars,
        api_server(port=free_port(), livekit=livekit_server, env=avatars.env) as api,
        nginx_cdn(api.url, tmp_path_factory.mktemp("avatar-edge")) as edge,
    ):
        yield Stack(edge=edge, api=api.url, avatars=avatars)


def get(base: str, picture: str, **extra: str) -> httpx.Response:
    return httpx.get(
        f"{base}{names.AVATAR_PATH}", params={names.AVATAR_URL_PARAM: picture, **extra}, timeout=30
    )


def test_a_picture_reaches_every_viewer_from_the_edge_and_its_host_sees_the_api_once(stack: Stack) -> None:
    picture = stack.avatars.picture("ada")
    first = get(stack.edge, picture)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(first.content)) as image:
        assert image.format == "WEBP" and image.size == (48, 48)
        r, g, b = image.convert("RGB").getpixel((24, 24))  # type: ignore[misc]
        assert abs(r - COLOUR[0]) < 20 and abs(g - COLOUR[1]) < 20 and abs(b - COLOUR[2]) < 20
    # Other viewers, with their own cookies, credentials and parameters: the edge's copy.
    for n in range(3):
        again = httpx.get(
            f"{stack.edge}{names.AVATAR_PATH}",
            params={names.AVATAR_URL_PARAM: picture, "viewer": str(n)},
            headers={"Cookie": f"session=viewer-{n}", "Authorization": f"Bearer viewer-{n}"},
            timeout=30,
        )
        assert again.status_code == 200 and again.content == first.content
        assert again.headers["x-cache"] == "HIT"
    assert stack.avatars.requests.count(("/ada.png", API_USER_AGENT)) == 1
    assert {agent for _, agent in stack.avatars.requests} == {API_USER_AGENT}


def test_each_picture_url_is_its_own_entry(stack: Stack) -> None:
    one, two = stack.avatars.picture("one"), stack.avatars.picture("two")
    assert get(stack.edge, one).status_code == 200
    assert get(stack.edge, two).status_code == 200
    paths = [path for path, _ in stack.avatars.requests]
    assert paths.count("/one.png") == 1 and paths.count("/two.png") == 1


def test_a_url_off_the_policy_is_refused_and_nothing_is_contacted(stack: Stack) -> None:
    # Each of these would reach the avatar host's server if the policy let it through.
    port = stack.avatars.base_url.rsplit(":", 1)[1]
    before = len(stack.avatars.requests)
    for picture in (
        f"https://127.0.0.1:{port}/ada.png",  # the same server by address: not a listed host
        f"https://someone@localhost:{port}/ada.png",  # user info
    ):
        resp = get(stack.api, picture)
        assert resp.status_code == 403, resp.text
        assert resp.json()["rule"] == "avatar_url_refused"
    resp = get(stack.api, "file:///etc/passwd")
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["query", names.AVATAR_URL_PARAM]
    assert len(stack.avatars.requests) == before


def test_what_is_not_a_picture_is_a_502_that_names_the_rule(stack: Stack) -> None:
    resp = get(stack.api, f"{stack.avatars.base_url}/missing.txt")
    assert resp.status_code == 502
    assert resp.json()["rule"] == "avatar_unavailable"
    assert "answered 404" in resp.json()["detail"]
