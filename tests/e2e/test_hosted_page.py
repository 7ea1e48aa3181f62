"""The page as the stack hosts it (infrastructure/constructs/web_site.py), in real browsers.

The stack copies the build into a bucket with its own `config.json` and its policy written into the
page (a <meta> element: the origins are deploy-time values), and its CloudFront sends only the
headers that name no origin. Here a static server stands where that CloudFront would, on an origin
of its own, apart from the API, serving exactly that: the same build, the page with the policy
(`web_security.page_with_policy`), a config.json naming the API, the hosted headers and the cache
headers the deployment sets. The API allows the page's origin (what the stack's cors_origins get).

A host signs in, creates and starts a Space, a listener joins it and sees the host on the stage: every
call crosses origins, and nothing is refused by the policy (the autouse check), which the page does
enforce (an eval is refused)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.async_api import Route, expect

from contract import names, web_security
from functions.dev_token import dev_token
from infrastructure.constructs import web_site
from tests.conftest import LiveKitEndpoint
from tests.support.eventually import eventually_async

from .conftest import LaunchBrowser
from .spaces_page import CSP_VIOLATIONS, UI_TIMEOUT_MS, Person, note_csp_violation

HOST = ("hosted-host", "Hana Hosted")
LISTENER = ("hosted-listener", "Lee Listener")


class _Bucket(SimpleHTTPRequestHandler):
    """A folder served like the page's bucket behind its distribution."""

    def end_headers(self) -> None:
        for name, value in web_security.hosted_headers().items():
            self.send_header(name, value)
        assets = self.path.startswith("/" + web_site.ASSETS.removesuffix("*"))
        self.send_header(
            "Cache-Control", web_site.ASSET_CACHE_CONTROL if assets else web_site.PAGE_CACHE_CONTROL
        )
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@dataclass(frozen=True)
class HostedServer:
    origin: str
    folder: Path


@pytest.fixture(scope="module")
def hosted_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostedServer]:
    folder = tmp_path_factory.mktemp("web-bucket")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Bucket, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HostedServer(origin=f"http://127.0.0.1:{server.server_address[1]}", folder=folder)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def api_extra_env(hosted_server: HostedServer) -> dict[str, str]:
    # What the stack does with the page's origin: the API allows it (and only it).
    return {names.ENV_CORS_ORIGINS: hosted_server.origin}


@pytest.fixture(scope="module")
def hosted_page(
    hosted_server: HostedServer, api_url: str, web_dist: Path, livekit_server: LiveKitEndpoint
) -> str:
    """The bucket's contents, as the stack's deployment writes them; the page's URL."""
    shutil.copytree(web_dist / "assets", hosted_server.folder / "assets", dirs_exist_ok=True)
    api = web_security.origin(api_url)
    # The stack's policy (spaces_stack.web_policy) with this machine's origins: the API (which is
    # also the avatar proxy here, no CDN) and the SFU's signalling.
    policy = web_security.content_security_policy(
        connect=[api, *web_security.signalling_origins(livekit_server.ws_url)], images=[api]
    )
    page = web_security.page_with_policy((web_dist / web_site.PAGE).read_text(), policy)
    (hosted_server.folder / web_site.PAGE).write_text(page)
    (hosted_server.folder / web_site.CONFIG).write_text(json.dumps({"apiUrl": api_url}))
    assert web_security.origin(api_url) != hosted_server.origin
    return f"{hosted_server.origin}/"


@dataclass
class Hosted:
    host: Person
    listener: Person
    space_id: str
    api_url: str
    page_url: str


@pytest.fixture(scope="module")
async def hosted(
    hosted_page: str, api_url: str, stage_agent: object, launch_browser: LaunchBrowser
) -> AsyncIterator[Hosted]:
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, hosted_page, HOST[0])
    listener = await Person.open(browser, hosted_page, LISTENER[0])
    await host.sign_in(name=HOST[1])
    space_id = await host.create_space("Hosted by the stack", video="off")
    await host.start_space()
    await listener.sign_in(f"/#/spaces/{space_id}", name=LISTENER[1])
    await listener.join(space_id)
    yield Hosted(host, listener, space_id, api_url, hosted_page)
    for person in (host, listener):
        await person.page.context.close()


async def test_a_listener_sees_the_host_on_the_stage_of_the_hosted_page(hosted: Hosted) -> None:
    name = hosted.listener.page.locator(
        f'[data-testid="tile"][data-identity="{HOST[0]}"] [data-testid="tile-name"]'
    )
    await expect(name).to_have_text(f"{HOST[1]} · Host", timeout=UI_TIMEOUT_MS)
    await expect(hosted.host.by("whoami-user")).to_have_text(HOST[1])


async def test_every_api_call_goes_to_the_api_named_in_config_json(hosted: Hosted) -> None:
    for person in (hosted.host, hosted.listener):
        own = [u for u in person.requests if u.startswith(hosted.page_url)]
        # From its own origin the page loads only its files.
        assert all(
            u.removeprefix(hosted.page_url).split("#")[0] in ("", web_site.CONFIG) or "/assets/" in u
            for u in own
        ), own
        assert any(u.startswith(f"{hosted.api_url}/spaces") for u in person.requests)


async def test_the_policy_in_the_page_is_enforced_and_the_header_holds_the_frame_policy(
    hosted: Hosted,
) -> None:
    page = hosted.host.page
    response = await page.request.get(hosted.page_url)
    assert response.headers["content-security-policy"] == web_security.FRAME_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert await page.locator('meta[http-equiv="Content-Security-Policy"]').count() == 1
    # The header's policy allows an inline script; only the page's <meta> policy refuses it.
    ran = await page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.inlineRan = true";
          document.head.appendChild(script);
          return window.inlineRan === true;
        }"""
    )
    assert ran is False
    await eventually_async(lambda: any("inline script" in v for v in CSP_VIOLATIONS))
    CSP_VIOLATIONS[:] = [v for v in CSP_VIOLATIONS if "inline script" not in v]


async def test_no_other_page_may_frame_the_hosted_page(hosted: Hosted, launch_browser: LaunchBrowser) -> None:
    """The one directive a <meta> policy cannot carry travels as a header: a page that frames the
    hosted page gets an error page in the frame, not the page."""
    browser = await launch_browser([])
    context = await browser.new_context()
    try:
        page = await context.new_page()
        refusals: list[str] = []
        page.on("console", lambda message: refusals.append(message.text))
        await page.set_content(f'<iframe src="{hosted.page_url}"></iframe>')

        def framed() -> str | None:
            child = [f for f in page.frames if f != page.main_frame]
            return child[0].url if child and child[0].url not in ("", "about:blank") else None

        url = await eventually_async(framed, what="the frame to settle")
        assert not url.startswith(hosted.page_url), url
        assert any("frame-ancestors" in r for r in refusals), refusals
    finally:
        await context.close()


COGNITO = {
    "region": "eu-west-1",
    "clientId": "web-client",
    "domain": "spaces-test.auth.eu-west-1.amazoncognito.com",
}
RENEWED = ("renewed-user", "Rena Renewed")


async def test_a_session_whose_id_token_expired_is_renewed_at_cognito_under_the_hosted_policy(
    hosted_server: HostedServer, api_url: str, web_dist: Path, launch_browser: LaunchBrowser
) -> None:
    """The page as the stack hosts it with a user pool: config.json names it, and the policy is the
    stack's (spaces_stack.web_policy), sign-in domain and Cognito's regional API included. A page
    opened an hour after sign-in holds an expired ID token and the refresh token: it renews the
    session at Cognito's API (InitiateAuth) and goes on signed in, with nothing refused by the
    policy. There is no Cognito here: the browser answers that one request (the page, its policy
    and the browser's enforcement of it are what is tested), with a token the local API accepts."""
    folder = hosted_server.folder / "cognito"
    shutil.copytree(web_dist / "assets", folder / "assets", dirs_exist_ok=True)
    api = web_security.origin(api_url)
    policy = web_security.content_security_policy(
        connect=[api, f"https://{COGNITO['domain']}", web_security.cognito_api_origin(COGNITO["region"])],
        images=[api],
    )
    page_html = web_security.page_with_policy((web_dist / web_site.PAGE).read_text(), policy)
    (folder / web_site.PAGE).write_text(page_html)
    (folder / web_site.CONFIG).write_text(json.dumps({"apiUrl": api_url, "cognito": COGNITO}))

    user, name = RENEWED
    expired = dev_token(user, secret=names.DEV_JWT_SECRET, ttl=-60, name=name)
    browser = await launch_browser([])
    context = await browser.new_context(
        storage_state={
            "cookies": [],
            "origins": [
                {
                    "origin": hosted_server.origin,
                    "localStorage": [
                        {"name": "spaces.session", "value": expired},
                        {"name": "spaces.refresh", "value": "a-refresh-token"},
                    ],
                }
            ],
        }
    )
    asked: list[dict[str, object]] = []

    async def cognito(route: Route) -> None:
        asked.append(json.loads(route.request.post_data or "{}"))
        renewed = dev_token(user, secret=names.DEV_JWT_SECRET, name=name)
        await route.fulfill(
            status=200,
            content_type="application/x-amz-json-1.1",
            body=json.dumps({"AuthenticationResult": {"IdToken": renewed}}),
        )

    try:
        await context.route(f"{web_security.cognito_api_origin(COGNITO['region'])}/", cognito)
        page = await context.new_page()
        page.on("console", lambda message: note_csp_violation(user, message.text))
        await page.goto(f"{hosted_server.origin}/cognito/")
        await expect(page.locator('[data-testid="whoami-user"]')).to_have_text(name, timeout=UI_TIMEOUT_MS)
        assert asked == [
            {
                "AuthFlow": "REFRESH_TOKEN_AUTH",
                "ClientId": COGNITO["clientId"],
                "AuthParameters": {"REFRESH_TOKEN": "a-refresh-token"},
            }
        ]
        # The renewed session works against the API: the lobby's list of Spaces loaded.
        await expect(page.locator('[data-testid="create-title"]')).to_be_visible(timeout=UI_TIMEOUT_MS)
    finally:
        await context.close()
