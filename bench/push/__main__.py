"""python -m bench.push [--minutes 3] [--viewers 2] [--before main]

API calls per viewer-minute of an idle listener page (issue 9: goal <= 0.1), in the real browser
(Debian's Chromium via Playwright) against a real livekit-server and the API in local mode. The
same API serves two builds of the web client in turn: `--before` (a git ref, built from its
web/ into a temporary folder; main's page polls GET /spaces/{id} every 3 s) and this checkout's
web/dist. A host starts a Space through the API; each viewer signs in and joins as a listener in
its own browser context, then the window of `--minutes` is measured: requests to the API origin
under /spaces and /dev (the page's assets and /broadcast/, the CDN's job, are not API calls).

Writes docs/bench/push.md (the result block between the markers) with the command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Request, async_playwright

from contract import names
from devstack import livekit
from devstack.ports import free_port
from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.e2e.spaces_page import Person
from tests.support.api_server import api_server

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "bench" / "push.md"
GOAL = 0.1
API_PATHS = ("/spaces", "/dev")
BEGIN, END = "<!-- bench.push results -->", "<!-- /bench.push results -->"
# The host acts through the API and never joins the room; the host grace period (docs/control-plane.md,
# "The host") would otherwise end the Space during the measured minutes.
ENV = {names.ENV_HOST_GRACE_SECONDS: "86400"}


@dataclass
class Result:
    build: str
    viewers: int
    minutes: float
    calls: int
    paths: dict[str, int]

    @property
    def per_viewer_minute(self) -> float:
        return self.calls / (self.viewers * self.minutes)


def build_web(ref: str, into: Path) -> Path:
    """web/ of `ref`, built with this checkout's node_modules (same lockfile family), no tests."""
    archive = subprocess.run(["git", "archive", ref, "web"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    web = into / "web"
    (web / "node_modules").symlink_to(ROOT / "web" / "node_modules")
    subprocess.run(["npx", "vite", "build", "--logLevel", "error"], cwd=web, check=True)
    return web / "dist"


def counter(origin: str, seen: list[str]) -> Callable[[Request], None]:
    def on_request(request: Request) -> None:
        url = urlsplit(request.url)
        if f"{url.scheme}://{url.netloc}" == origin and url.path.startswith(API_PATHS):
            seen.append(f"{request.method} {url.path}")

    return on_request


async def measure(
    build: str, dist: Path, server: livekit.LiveKitServer, port: int, viewers: int, minutes: float
) -> Result:
    # LiveKitServer has the fields LiveKitLike names, read-only (the same mismatch as tests/e2e/conftest.py).
    with api_server(port=port, livekit=server, env=ENV | {"SPACES_WEB_DIST": str(dist)}) as api:  # type: ignore[arg-type]
        host = api.auth("bench-host")
        space = httpx.post(f"{api.url}/spaces", headers=host, json={"title": "bench", "video": "off"}).json()
        httpx.post(f"{api.url}/spaces/{space['id']}/start", headers=host).raise_for_status()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            seen: list[str] = []
            people = [await Person.open(browser, api.url, f"bench-viewer-{i}") for i in range(viewers)]
            for person in people:
                await person.sign_in(f"/#/spaces/{space['id']}")
                await person.join(space["id"])
                person.page.on("request", counter(api.url, seen))
            start = time.monotonic()
            await asyncio.sleep(minutes * 60)  # the measurement window
            elapsed = (time.monotonic() - start) / 60
            calls = list(seen)
            await browser.close()
    paths: dict[str, int] = {}
    for c in calls:
        key = c.replace(space["id"], "{id}")
        paths[key] = paths.get(key, 0) + 1
    return Result(build, viewers, elapsed, len(calls), paths)


def report(results: list[Result], command: str, load: tuple[float, float, float]) -> str:
    rows = "\n".join(
        f"| {r.build} | {r.viewers} | {r.minutes:.2f} | {r.calls} | **{r.per_viewer_minute:.2f}** | "
        + (", ".join(f"`{k}` × {v}" for k, v in sorted(r.paths.items())) or "none")
        + " |"
        for r in results
    )
    return (
        f"{BEGIN}\n"
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}`; load average before "
        f"{load[0]:.1f}.\n\n"
        "| page build | idle listener pages | window (min) | API calls in the window "
        "| per viewer-minute | which |\n"
        "|---|---|---|---|---|---|\n"
        f"{rows}\n\n"
        f"Goal ≤ {GOAL} per viewer-minute.\n{END}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.push")
    parser.add_argument("--minutes", type=float, default=3.0, help="measurement window per build")
    parser.add_argument("--viewers", type=int, default=2, help="idle listener pages per build")
    parser.add_argument("--before", default="main", help="git ref whose web/ is the 'before' page")
    args = parser.parse_args()
    command = "python -m bench.push " + " ".join(sys.argv[1:])
    load = os.getloadavg()
    port = free_port()
    server = livekit.start_local(
        api_key=names.DEV_API_KEY,
        api_secret=names.DEV_API_SECRET,
        webhook_url=f"http://127.0.0.1:{port}/livekit/webhook",
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    try:
        before = build_web(args.before, tmp)
        results = [
            asyncio.run(
                measure(f"before (`{args.before}`)", before, server, port, args.viewers, args.minutes)
            ),
            asyncio.run(
                measure(
                    "after (this checkout)", ROOT / "web" / "dist", server, port, args.viewers, args.minutes
                )
            ),
        ]
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    block = report(results, command, load)
    print(block)
    text = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) + 1 :]
    else:
        text = text + "\n" + block
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
