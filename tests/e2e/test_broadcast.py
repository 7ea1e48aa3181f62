"""The broadcast tier in a real browser: a listener past the interactive threshold watches the
composer's HLS stream through hls.js, is promoted to the room, and the recording replays.

Two synthetic speakers publish espeak speech and solid-colour cameras; the stage agent decides the
spotlight and the composer draws it into the stream. The API runs with the WebRTC listener limit at
0, so every listener is sent to the broadcast. What the listener is asserted to see is read from
decoded frames in the page (the <video> drawn into a canvas): the colour in the big tile says whose
camera the stream shows. The host acts through the API (no browser needed for clicks the stage tests
already cover). Tests run in file order on one live Space; the last one ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from livekit import api as lkapi
from playwright.async_api import Page, Request, Route, expect

from composer.layout import Geometry
from composer.settings import FPS_ENV, HEIGHT_ENV, WIDTH_ENV
from contract import names
from functions.domain import presence
from functions.domain.model import room_name_for
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import broadcast_env
from tests.support.avatar_host import AvatarHost
from tests.support.eventually import eventually_async
from tests.support.synthetic_speakers import SyntheticSpeaker, espeak_clip, stage_in

from .conftest import LaunchBrowser
from .spaces_page import UI_TIMEOUT_MS, Person, proxied

HOST, ALICE, BOB, LISTENER = "hana", "alice", "bob", "lena"
# The identity provider's claims: the host has a name and an avatar, alice a name, bob neither.
# (The host's picture is on the test's avatar host: Broadcast.host_picture.)
PROFILES = {
    HOST: {"name": "Hana Host"},
    ALICE: {"name": "Alice Adams"},
}
# A second HLS viewer, in the presence sample (lena is not): domain/presence.py.
SAMPLED_VIEWER = "nina"
# A viewer the host removes, then blocks.
REMOVED_VIEWER = "otto"
# How often the page reads state.json (web/src/names.ts STATE_POLL_MS).
STATE_POLL_MS = 3000
PRESENCE_WINDOW_S = 5
# Solid camera colours, far apart in every channel, and far from the composer's dark background.
COLOURS = {ALICE: (225, 40, 40), BOB: (40, 90, 235)}
# A decoded pixel matches a camera colour within this much per channel (H.264 4:2:0 in between).
COLOUR_TOLERANCE = 55
# The composer encodes a small picture here: the machine runs the SFU, two agents, two speakers and
# Chromium on two shared cores. The layout scales with the size, and the test reads it from there.
COMPOSER_SIZE = (640, 360)
COMPOSER_FPS = 15
# Talking turns reach the stream through the agent's spotlight rules (a hold time), the composer, a
# 1 s segment, the playlist reload and the player's 1.5 s hold-back: generous on a loaded box.
TURN_TIMEOUT = 45.0

# Sample points around the centre of the big tile, as fractions of the frame.
_BIG = Geometry.for_size(*COMPOSER_SIZE).big
BIG_POINTS = [
    ((_BIG.x + _BIG.w * fx) / COMPOSER_SIZE[0], (_BIG.y + _BIG.h * fy) / COMPOSER_SIZE[1])
    for fx in (0.42, 0.5, 0.58)
    for fy in (0.4, 0.5, 0.6)
]

# The frame on screen, drawn into a canvas at its decoded size: the big-tile pixels and the clock.
SAMPLE_JS = """(points) => {
  const v = document.querySelector('[data-testid="broadcast-video"]');
  if (!v || v.readyState < 2 || !v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(v, 0, 0);
  const px = points.map(([fx, fy]) => {
    const d = g.getImageData(Math.round(fx * c.width), Math.round(fy * c.height), 1, 1).data;
    return [d[0], d[1], d[2]];
  });
  return { px, t: v.currentTime, paused: v.paused };
}"""

# Route the element's sound through a WebAudio analyser (and on to the speakers) once, then read
# the loudest sample of the last analysis window.
AUDIO_JS = """() => {
  const v = document.querySelector('[data-testid="broadcast-video"]');
  if (!v) return null;
  if (!window.__tap || window.__tap.el !== v) {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    ctx.createMediaElementSource(v).connect(analyser);
    analyser.connect(ctx.destination);
    window.__tap = { el: v, ctx, analyser, buf: new Float32Array(analyser.fftSize) };
  }
  const tap = window.__tap;
  tap.analyser.getFloatTimeDomainData(tap.buf);
  let peak = 0;
  for (const x of tap.buf) peak = Math.max(peak, Math.abs(x));
  return { peak, ctx: tap.ctx.state, muted: v.muted, decoded: v.webkitAudioDecodedByteCount };
}"""


def whose(pixels: list[list[int]]) -> str | None:
    """The speaker whose camera colour the big tile shows (median of the samples), or None."""
    median = np.median(np.array(pixels, dtype=float), axis=0)
    for identity, colour in COLOURS.items():
        if np.all(np.abs(median - np.array(colour)) <= COLOUR_TOLERANCE):
            return identity
    return None


@dataclass
class Talk:
    """At most one speaker talking, on a loop, so the stage agent has one clear candidate."""

    clip: np.ndarray
    task: asyncio.Task[None] | None = None

    def start(self, speaker: SyntheticSpeaker) -> None:
        self.stop()
        self.task = asyncio.create_task(self._loop(speaker), name=f"talk-{speaker.identity}")

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def _loop(self, speaker: SyntheticSpeaker) -> None:
        while True:
            # Shielded: cancelling this loop must not cancel the utterance's future, which the
            # speaker's audio pump resolves when the clip has played out.
            await asyncio.shield(speaker.say(self.clip).done)
            await asyncio.sleep(0.2)


@dataclass
class Broadcast:
    space_id: str
    api: httpx.AsyncClient
    auth: dict[str, dict[str, str]]
    speakers: dict[str, SyntheticSpeaker]
    listener: Person
    talk: Talk
    shots: Path
    host_picture: str
    api_url: str
    seen: list[Any] = field(default_factory=list)

    @property
    def page(self) -> Page:
        return self.listener.page

    async def as_host(self, method: str, path: str, **kw: Any) -> httpx.Response:
        resp = await self.api.request(method, path, headers=self.auth[HOST], **kw)
        assert resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp

    async def big_tile(self) -> str | None:
        sample = await self.page.evaluate(SAMPLE_JS, BIG_POINTS)
        if sample is None:
            return None
        who = whose(sample["px"])
        self.seen.append((round(sample["t"], 1), who, sample["px"][4]))
        return who

    async def sees(self, identity: str, what: str) -> None:
        self.seen.clear()

        async def check() -> bool:
            return await self.big_tile() == identity

        try:
            await eventually_async(check, timeout=TURN_TIMEOUT, interval=0.25, what=what)
        except AssertionError as exc:
            # Tell "the agent never switched" from "the stream did not follow": the stage as the
            # speakers see it, beside what the stream showed.
            stage = stage_in(next(iter(self.speakers.values())).room)
            raise AssertionError(
                f"{exc}; the big tile showed (media time, whose, centre pixel): {self.seen[-12:]}; "
                f"the stage agent's state: {stage}"
            ) from None


@pytest.fixture(scope="module")
def broadcast_dir() -> Iterator[Path]:
    """Where the composer writes and the API serves from. Not under pytest's temporary root: a
    concurrent pytest session on the machine prunes old roots at its start and could delete it."""
    with tempfile.TemporaryDirectory(prefix="spaces-e2e-broadcast-") as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def api_extra_env(livekit_server: LiveKitEndpoint, broadcast_dir: Path) -> dict[str, str]:
    """The broadcast tier as `make dev` runs it, with every listener sent to HLS (limit 0)."""
    env = broadcast_env(
        api_url=f"http://127.0.0.1:{livekit_server.webhook_port}",
        broadcast_dir=broadcast_dir,
        webrtc_listener_limit=0,
    )
    # The host acts through the API and never joins the room: without this, the host grace period
    # (docs/control-plane.md, "The host") would end the Space partway through the module.
    # Short presence windows, so a sampled viewer's heartbeats and the count they make are seen
    # within the module (the default window is 300 s).
    return {
        **env,
        names.ENV_HOST_GRACE_SECONDS: "3600",
        names.ENV_PRESENCE_WINDOW_SECONDS: str(PRESENCE_WINDOW_S),
    }


@pytest.fixture(scope="module")
def composer(livekit_server: LiveKitEndpoint, broadcast_dir: Path) -> Iterator[object]:
    from tests.support.agent_process import start_composer

    proc = start_composer(
        ws_url=livekit_server.ws_url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
        broadcast_dir=broadcast_dir,
        mode="dev",
        name="e2e-composer",
        env={WIDTH_ENV: str(COMPOSER_SIZE[0]), HEIGHT_ENV: str(COMPOSER_SIZE[1]), FPS_ENV: str(COMPOSER_FPS)},
    )
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
async def broadcast(
    api_url: str,
    stage_agent: object,
    composer: object,
    launch_browser: LaunchBrowser,
    screenshots: Path,
    avatars: AvatarHost,
) -> AsyncIterator[Broadcast]:
    host_picture = avatars.picture("hana")
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as api:
        auth = {}
        for user in (HOST, ALICE, BOB):
            profile: dict[str, str] = {**PROFILES.get(user, {})}
            if user == HOST:
                profile["picture"] = host_picture
            token = (await api.post("/dev/token", json={"user_id": user, **profile})).json()["token"]
            auth[user] = {"Authorization": f"Bearer {token}"}
        created = await api.post(
            "/spaces", json={"title": "On the broadcast", "video": "speakers"}, headers=auth[HOST]
        )
        space_id = created.json()["id"]
        started = await api.post(f"/spaces/{space_id}/start", headers=auth[HOST])
        assert started.json()["broadcast"]["playlist_url"].endswith(f"/{space_id}/{names.BROADCAST_PLAYLIST}")

        # The host puts both speakers on stage; a stage role always gets a WebRTC token.
        speakers: dict[str, SyntheticSpeaker] = {}
        for user in (ALICE, BOB):
            resp = await api.put(
                f"/spaces/{space_id}/roles/{user}", json={"role": "speaker"}, headers=auth[HOST]
            )
            assert resp.status_code == 200, resp.text
            grant = (await api.post(f"/spaces/{space_id}/token", headers=auth[user])).json()
            assert grant["mode"] == "webrtc", grant
            speakers[user] = await SyntheticSpeaker.join(grant["url"], grant["token"], user)
            await speakers[user].publish_camera(COLOURS[user])

        # Sound may start without a click (as after the Join click in a real visit), and the
        # analyser hears it.
        browser = await launch_browser(["--autoplay-policy=no-user-gesture-required"])
        listener = await Person.open(browser, api_url, LISTENER)
        await listener.sign_in(f"/#/spaces/{space_id}")
        await listener.by("join-space").click()
        await expect(listener.by("broadcast")).to_have_attribute(
            "data-state", "playing", timeout=TURN_TIMEOUT * 1000
        )

        talk = Talk(clip=espeak_clip("The quick brown fox jumps over the lazy dog.", "en-us"))
        try:
            yield Broadcast(space_id, api, auth, speakers, listener, talk, screenshots, host_picture, api_url)
        finally:
            talk.stop()
            for speaker in speakers.values():
                with contextlib.suppress(Exception):
                    await speaker.aclose()


async def test_listener_past_the_threshold_watches_the_broadcast(broadcast: Broadcast) -> None:
    page = broadcast.listener
    # Not in the room: no LiveKit connection, no publish controls; the title, audience and a hand.
    assert await page.page.evaluate("() => window.spaces.room === null && !!window.spaces.broadcast.hls")
    await expect(page.by("my-role")).to_have_text("Listener")
    await expect(page.by("raise-hand")).to_be_visible()
    await expect(page.by("toggle-mic")).to_have_count(0)
    await expect(page.by("listener-count")).to_be_visible()
    await expect(page.page.locator("h1")).to_have_text("On the broadcast")
    # The indicator reads the seconds behind live once frames play.
    await expect(page.by("live-indicator")).to_have_text(
        re.compile(r"^LIVE · \d+ s behind$"), timeout=UI_TIMEOUT_MS
    )

    # hls.js plays the Space's two renditions (live-variants.m3u8: the low one first), joined at the
    # live edge of the sliding live windows (no PLAYLIST-TYPE), not at their first segment, and holds
    # within the latency it is configured for (updated as fragments play).
    async def near_the_live_edge() -> bool:
        live = await page.page.evaluate(
            """() => { const hls = window.spaces.broadcast.hls;
                       const live = hls.levels[0].details.live;
                       return { latency: hls.latency, max: hls.maxLatency, live, url: hls.url,
                                heights: hls.levels.map(l => l.height) }; }"""
        )
        assert live["live"] is True, live
        assert live["url"].endswith("/live-variants.m3u8"), live
        assert live["heights"] == [COMPOSER_SIZE[1] // 2, COMPOSER_SIZE[1]], live
        assert isinstance(live["latency"], int | float) and 0 < live["latency"] <= live["max"], live
        return True

    await eventually_async(
        near_the_live_edge, timeout=UI_TIMEOUT_MS / 1000, what="hls.js playing within its live window"
    )
    await broadcast.listener.screenshot(broadcast.shots, "broadcast-01-listener-on-hls")


async def test_the_viewer_sees_who_is_on_stage_by_name_and_face(broadcast: Broadcast) -> None:
    """A viewer sees no participant: the stage's names and avatars come with the Space (state.json,
    the API), learnt from each one's token claims."""
    page = broadcast.listener
    roster = page.by("roster-person")
    await expect(roster).to_have_count(3, timeout=UI_TIMEOUT_MS)
    host = page.by("roster-person", HOST)
    await expect(host).to_contain_text("Hana Host")
    await expect(host).to_have_attribute("data-role", "host")
    await expect(host.locator('[data-testid="avatar"] img')).to_have_attribute(
        "src", proxied(broadcast.host_picture, broadcast.api_url)
    )
    # The picture loaded (a failed one falls back to the initials and drops the <img>).
    await eventually_async(
        lambda: host.locator("img").evaluate("(img) => img.complete && img.naturalWidth === 48 || null"),
        timeout=UI_TIMEOUT_MS / 1000,
        what="the host's picture loaded",
    )
    alice = page.by("roster-person", ALICE)
    await expect(alice).to_contain_text("Alice Adams", timeout=UI_TIMEOUT_MS)
    await expect(alice.locator('[data-testid="avatar"]')).to_have_text("AA")
    await expect(page.by("roster-person", BOB).locator(".roster-name")).to_have_text(BOB)


async def test_the_broadcast_picture_fills_the_screen_on_request_and_plays_on(broadcast: Broadcast) -> None:
    """On a phone the stream is drawn a third of its size: Full screen shows the broadcast's tile
    (its banners with it) across the whole screen, and Escape brings the page back."""
    page = broadcast.listener
    await page.by("full-screen").click()
    await eventually_async(
        lambda: page.page.evaluate(
            "() => document.fullscreenElement?.dataset.testid === 'broadcast'"
            " && document.fullscreenElement.getBoundingClientRect().height === innerHeight"
        ),
        timeout=UI_TIMEOUT_MS / 1000,
        what="the broadcast's tile full screen",
    )
    await expect(page.by("broadcast")).to_have_attribute("data-state", "playing")
    await page.page.evaluate("() => document.exitFullscreen()")
    await eventually_async(
        lambda: page.page.evaluate("() => document.fullscreenElement === null"),
        timeout=UI_TIMEOUT_MS / 1000,
        what="the page back",
    )


async def test_the_rooms_reactions_float_over_the_broadcast(broadcast: Broadcast) -> None:
    """The viewer is not in the room: the composer writes the room's reactions to reactions.json
    beside the playlist, and the page floats them when its playback reaches them."""
    page = broadcast.listener
    overlay = page.by("reactions-overlay")
    await expect(overlay).to_have_attribute("data-total", "0")
    for user, emoji in ((ALICE, "🔥"), (BOB, "👏")):
        resp = await broadcast.api.post(
            f"/spaces/{broadcast.space_id}/reactions", json={"emoji": emoji}, headers=broadcast.auth[user]
        )
        assert resp.status_code == 202, resp.text
    await expect(overlay).to_have_attribute("data-total", "2", timeout=TURN_TIMEOUT * 1000)
    shown = await page.page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=reactions-overlay] .reaction-bubble')]"
        ".map((b) => b.dataset.emoji).sort()"
    )
    assert shown in ([], ["👏", "🔥"]), shown  # the bubbles may already have floated away
    feed = (await broadcast.api.get(f"/broadcast/{broadcast.space_id}/{names.BROADCAST_REACTIONS}")).json()
    assert sorted(e for b in feed["bursts"] for e in b["counts"]) == ["👏", "🔥"], feed


async def test_only_a_sampled_viewer_sends_presence_heartbeats_while_playing(broadcast: Broadcast) -> None:
    assert presence.sampled(SAMPLED_VIEWER) and not presence.sampled(LISTENER)
    path = f"/spaces/{broadcast.space_id}/presence"
    sent = {LISTENER: 0, SAMPLED_VIEWER: 0}

    def counting(who: str) -> Callable[[Request], None]:
        def count(request: Request) -> None:
            if request.method == "POST" and request.url.split("?")[0].endswith(path):
                sent[who] += 1

        return count

    broadcast.listener.page.on("request", counting(LISTENER))
    browser = broadcast.listener.page.context.browser
    assert browser is not None
    viewer = await Person.open(browser, str(broadcast.api.base_url), SAMPLED_VIEWER)
    viewer.page.on("request", counting(SAMPLED_VIEWER))
    try:
        await viewer.sign_in(f"/#/spaces/{broadcast.space_id}")
        await viewer.by("join-space").click()
        await expect(viewer.by("broadcast")).to_have_attribute(
            "data-state", "playing", timeout=TURN_TIMEOUT * 1000
        )

        async def beating() -> bool:
            return sent[SAMPLED_VIEWER] >= 2

        await eventually_async(beating, timeout=60, interval=0.5, what="two heartbeats while playing")

        # One sampled viewer is an estimated two: in the API and, through state.json, on both pages.
        async def counted() -> bool:
            return (await broadcast.as_host("GET", f"/spaces/{broadcast.space_id}")).json()[
                "listener_count"
            ] == 2

        await eventually_async(counted, timeout=60, interval=0.5, what="the HLS estimate in the API")
        for page in (broadcast.listener, viewer):
            await expect(page.by("listener-count")).to_have_text("2", timeout=60_000)

        # Paused: no heartbeat for three windows (a slow machine can only send fewer, never more).
        await viewer.page.evaluate("() => window.spaces.broadcast.video.pause()")
        await expect(viewer.by("broadcast")).not_to_have_attribute(
            "data-state", "playing", timeout=UI_TIMEOUT_MS
        )
        paused_at = sent[SAMPLED_VIEWER]
        await asyncio.sleep(3 * PRESENCE_WINDOW_S)
        assert sent[SAMPLED_VIEWER] == paused_at
        # Not sampled: lena's page never sent one.
        assert sent[LISTENER] == 0
    finally:
        await viewer.page.context.close()


async def test_big_tile_takes_the_talking_speakers_colour(broadcast: Broadcast) -> None:
    # The roster under the video marks who holds the stage in what plays (state.json's recent
    # changes at the player's PROGRAM-DATE-TIME): the cue an audio-only broadcast has.
    holder = broadcast.listener.page.locator('[data-testid="roster-person"][data-holder="true"]')
    broadcast.talk.start(broadcast.speakers[ALICE])
    await broadcast.sees(ALICE, "alice's colour in the big tile while she talks")
    await expect(holder).to_have_attribute("data-identity", ALICE, timeout=UI_TIMEOUT_MS)
    await broadcast.listener.screenshot(broadcast.shots, "broadcast-02-alice-talks")
    broadcast.talk.start(broadcast.speakers[BOB])
    await broadcast.sees(BOB, "bob's colour in the big tile while he talks")
    await expect(holder).to_have_attribute("data-identity", BOB, timeout=UI_TIMEOUT_MS)
    await expect(holder).to_have_count(1)
    await broadcast.listener.screenshot(broadcast.shots, "broadcast-03-bob-talks")


async def test_big_tile_follows_a_host_pin(broadcast: Broadcast) -> None:
    broadcast.talk.start(broadcast.speakers[ALICE])
    await broadcast.sees(ALICE, "alice's colour while she talks, before the pin")
    await broadcast.as_host("PUT", f"/spaces/{broadcast.space_id}/spotlight", json={"user_id": BOB})
    try:
        await broadcast.sees(BOB, "bob's colour while alice talks and bob is pinned")
        await broadcast.listener.screenshot(broadcast.shots, "broadcast-04-bob-pinned-while-alice-talks")
    finally:
        await broadcast.as_host("PUT", f"/spaces/{broadcast.space_id}/spotlight", json={"user_id": None})
    await broadcast.sees(ALICE, "alice's colour again once the pin is gone")


async def test_the_broadcast_carries_the_speakers_audio(broadcast: Broadcast) -> None:
    broadcast.talk.start(broadcast.speakers[BOB])
    page = broadcast.page
    # The stream has an AAC elementary stream (hls.js found it in the segments and gave it a
    # SourceBuffer)...
    tracks = await page.evaluate("() => window.spaces.broadcast.tracks")
    assert tracks["audio"].startswith("mp4a"), tracks
    assert tracks["video"].startswith("avc1"), tracks
    # ...and what comes out of the element is sound, not silence.
    readings: list[dict[str, Any]] = []

    async def loud() -> bool:
        reading = await page.evaluate(AUDIO_JS)
        readings.append(reading)
        return bool(reading) and reading["decoded"] > 0 and reading["peak"] > 0.02

    try:
        await eventually_async(loud, timeout=TURN_TIMEOUT, interval=0.2, what="speech in the broadcast audio")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last readings: {readings[-5:]}") from None


# Headless Chromium never hides a page (a minimised window or a tab behind another stays
# "visible"), so the test says it the way a locked phone does to the page: the visibility state and
# its event. Everything after that (the players, the segments, the sound) is the browser's own.
VISIBILITY_JS = """(state) => {
  Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
}"""

# How long the page stays on the sound alone: long enough for the stopped video's buffer and
# playlist to be far behind (a locked phone), which is what the hand-back must get over.
SOUND_ONLY_S = 30

# How long the replay's page stays hidden: past the switch (SOUND_ONLY_AFTER_MS), long enough that
# the stopped video is far from where the sound is when it comes back.
REPLAY_SOUND_ONLY_S = 20

# The same analyser tap as AUDIO_JS, on the sound-only player's <audio> element.
SOUND_ONLY_JS = AUDIO_JS.replace(
    """document.querySelector('[data-testid="broadcast-video"]')""", "window.spaces.broadcast.soundAudio"
)


async def picture_back_and_heard(page: Page) -> None:
    """The live player's video plays and is heard again; the sound alone is gone."""
    await eventually_async(
        lambda: page.evaluate(
            "() => !window.spaces.broadcast.soundOnly && !window.spaces.broadcast.soundAudio"
            " && !window.spaces.broadcast.video.paused && !window.spaces.broadcast.video.muted"
        ),
        timeout=TURN_TIMEOUT,
        what="the picture back and heard",
    )


def loaded_since(segments: list[tuple[float, str]], at: float) -> list[str]:
    """The names of the segments the page asked for after `at` (time.monotonic())."""
    return [url.rsplit("/", 1)[-1] for t, url in segments if t > at]


async def hears_the_sound_alone(page: Page, segments: list[tuple[float, str]], since: float) -> None:
    """The sound alone's <audio> carries speech, unmuted, and from `since` on the page loads only
    the sound's segments (`.au.ts`): no picture at all."""

    async def loud_alone() -> bool:
        reading = await page.evaluate(SOUND_ONLY_JS)
        return bool(reading) and not reading["muted"] and reading["peak"] > 0.02

    await eventually_async(loud_alone, timeout=TURN_TIMEOUT, interval=0.2, what="speech from the sound alone")
    await eventually_async(
        lambda: len([n for n in loaded_since(segments, since) if n.endswith(".au.ts")]) >= 3,
        timeout=TURN_TIMEOUT,
        what="three segments of the sound alone",
    )
    pictures = [n for n in loaded_since(segments, since) if not n.endswith(".au.ts")]
    assert pictures == [], pictures


async def test_a_hidden_page_hears_the_sound_alone_and_gets_the_picture_back_when_shown(
    broadcast: Broadcast,
) -> None:
    broadcast.talk.start(broadcast.speakers[BOB])
    page = broadcast.page
    segments: list[tuple[float, str]] = []
    page.on("request", lambda r: r.url.endswith(".ts") and segments.append((time.monotonic(), r.url)))

    await page.evaluate(VISIBILITY_JS, "hidden")
    # After 10 s hidden, the sound alone (the composer's audio rendition) is heard instead.
    await eventually_async(
        lambda: page.evaluate("() => window.spaces.broadcast.soundOnly"),
        timeout=TURN_TIMEOUT,
        what="the hidden page on the sound alone",
    )
    switched = time.monotonic()
    assert await page.evaluate("() => window.spaces.broadcast.video.paused")
    await expect(broadcast.listener.by("broadcast")).to_have_attribute("data-state", "playing")

    # Only the sound's segments are loaded from a second after the switch (one picture segment may
    # still have been on its way).
    await hears_the_sound_alone(page, segments, switched + 1)
    while time.monotonic() - switched < SOUND_ONLY_S:
        await asyncio.sleep(1)

    # Shown again: the video plays in step and is heard, the sound alone goes.
    shown = time.monotonic()
    await page.evaluate(VISIBILITY_JS, "visible")
    await picture_back_and_heard(page)
    assert any(not n.endswith(".au.ts") for n in loaded_since(segments, shown)), loaded_since(segments, shown)
    sample = await page.evaluate(SAMPLE_JS, BIG_POINTS)
    start = sample["t"] if sample else 0.0
    await eventually_async(
        lambda: page.evaluate(SAMPLE_JS, BIG_POINTS),
        timeout=TURN_TIMEOUT,
        what="a frame on screen",
    )
    await eventually_async(
        lambda: page.evaluate(
            "(t) => document.querySelector('[data-testid=\"broadcast-video\"]').currentTime > t + 1", start
        ),
        timeout=TURN_TIMEOUT,
        what="the picture moving again",
    )
    # Both handovers in step (IN_STEP_MS, 120 ms, web/src/sound_only.ts): half a second apart is a
    # word heard twice or lost, which is what the hand-back did after a long hide before.
    gaps = await page.evaluate("() => window.spaces.broadcast.handoverGapsMs")
    assert len(gaps) == 2 and all(g is not None and abs(g) <= 120 for g in gaps), gaps


# A link the sound alone (~90 kb/s with its playlist) fits in and the lowest picture of a busy
# stage does not: the low rendition here is 320x180 at 600 kb/s plus its sound. Chromium's own
# emulation of the page's network (DevTools protocol) makes it, for every request of the page.
THIN_LINK_KBPS = 250
WIDE_LINK_LATENCY_MS = 100
# A low segment this big is a busy picture's (a still stage's is a few kB): ~480 kb/s and more.
BUSY_LOW_SEGMENT_BYTES = 60_000


async def test_a_thin_link_hears_the_sound_alone_until_the_link_or_the_person_brings_the_picture_back(
    broadcast: Broadcast,
) -> None:
    bob = broadcast.speakers[BOB]
    broadcast.talk.start(bob)
    await broadcast.sees(BOB, "bob's camera in the big tile")
    page = broadcast.page
    space = broadcast.space_id
    bob.set_camera_noise(True)
    cdp = await page.context.new_cdp_session(page)
    try:

        async def busy_low_segment() -> bool:
            window = await broadcast.api.get(f"/broadcast/{space}/{names.BROADCAST_LOW_LIVE_PLAYLIST}")
            uris = [line for line in window.text.splitlines() if line and not line.startswith("#")]
            if window.status_code != 200 or not uris:
                return False
            return (
                len((await broadcast.api.get(f"/broadcast/{space}/{uris[-1]}")).content)
                > BUSY_LOW_SEGMENT_BYTES
            )

        await eventually_async(
            busy_low_segment, timeout=TURN_TIMEOUT, what="a busy picture in the low rendition"
        )
        segments: list[tuple[float, str]] = []
        page.on("request", lambda r: r.url.endswith(".ts") and segments.append((time.monotonic(), r.url)))
        await cdp.send("Network.enable")

        async def link(kbps: int | None) -> None:
            """A thin link next door (40 ms), or (None) a wide one far away: a CDN edge 100 ms off,
            so the sound's segments show the link by their rate, not by their round trip."""
            wide = kbps is None
            await cdp.send(
                "Network.emulateNetworkConditions",
                {
                    "offline": False,
                    "latency": WIDE_LINK_LATENCY_MS if wide else 40,
                    "downloadThroughput": -1 if wide else kbps * 1000 / 8,
                    "uploadThroughput": -1 if wide else kbps * 1000 / 8,
                },
            )

        async def thin_link_hears_the_sound_alone() -> None:
            await link(THIN_LINK_KBPS)
            # The picture stalls at the lowest rendition; the sound alone takes over, and says so.
            await eventually_async(
                lambda: page.evaluate(
                    "() => window.spaces.broadcast.soundOnly"
                    " && window.spaces.broadcast.soundReason === 'link'"
                ),
                timeout=2 * TURN_TIMEOUT,
                what="the sound alone on the thin link",
            )
            switched = time.monotonic()
            await expect(broadcast.listener.by("sound-only")).to_be_visible(timeout=UI_TIMEOUT_MS)
            await broadcast.listener.screenshot(broadcast.shots, "broadcast-07-sound-only-on-a-thin-link")
            # Two seconds for a picture segment that was on its way through the thin link.
            await hears_the_sound_alone(page, segments, switched + 2)

        async def picture_back_in_step(by: str) -> None:
            await picture_back_and_heard(page)
            assert await page.evaluate("() => window.spaces.broadcast.pictureAskedBy") == by
            await expect(broadcast.listener.by("sound-only")).to_have_count(0)
            # It plays on, and took the sound back in step (IN_STEP_MS, 120 ms).
            start = await page.evaluate("() => window.spaces.broadcast.video.currentTime")
            await eventually_async(
                lambda: page.evaluate("(t) => window.spaces.broadcast.video.currentTime > t + 1", start),
                timeout=TURN_TIMEOUT,
                what="the picture moving again",
            )
            gaps = await page.evaluate("() => window.spaces.broadcast.handoverGapsMs")
            assert gaps and gaps[-1] is not None and abs(gaps[-1]) <= 120, gaps

        await thin_link_hears_the_sound_alone()
        # The link is wide again: the sound's own segments show it, and the picture comes back by
        # itself (RECOVERY_AFTER_MS[0], 10 s, after the switch at the soonest).
        await link(None)
        await picture_back_in_step("link")

        # Thin again: the sound alone again, and now the picture waits longer before it is tried
        # by itself (RECOVERY_AFTER_MS[1], 60 s); the person asks for it on the wide link.
        await thin_link_hears_the_sound_alone()
        await link(None)
        assert await page.evaluate("() => window.spaces.broadcast.soundOnly")
        await broadcast.listener.by("show-picture").click()
        await picture_back_in_step("person")
    finally:
        bob.set_camera_noise(False)
        with contextlib.suppress(Exception):
            await cdp.send(
                "Network.emulateNetworkConditions",
                {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            )
            await cdp.detach()


async def test_a_promoted_listener_switches_to_webrtc_and_back_without_a_reload(
    broadcast: Broadcast, livekit_server: LiveKitEndpoint
) -> None:
    page = broadcast.listener
    await page.page.evaluate("() => { window.__sameDocument = true; }")
    await page.by("raise-hand").click()

    async def hand_raised() -> bool:
        space = (await broadcast.as_host("GET", f"/spaces/{broadcast.space_id}")).json()
        return LISTENER in space["raised_hands"]

    await eventually_async(
        hand_raised, timeout=UI_TIMEOUT_MS / 1000, what="the listener's hand reaches the host"
    )
    await broadcast.as_host("PUT", f"/spaces/{broadcast.space_id}/roles/{LISTENER}", json={"role": "speaker"})
    await expect(page.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.by("my-role")).to_have_text("Speaker", timeout=UI_TIMEOUT_MS)
    await expect(page.by("broadcast-video")).to_have_count(0)
    # The same document (no reload), the player gone, the room connected (the controls can show
    # before the media transport is up, so wait for it).
    await page.page.wait_for_function(
        "() => window.spaces.room && window.spaces.room.state === 'connected'", timeout=UI_TIMEOUT_MS
    )
    state = await page.page.evaluate(
        "() => ({ same: window.__sameDocument === true, hls: window.spaces.broadcast ?? null })"
    )
    assert state == {"same": True, "hls": None}, state
    # On the room now: the stage the agent decides, with the speakers' cameras.
    await expect(page.by("spotlight")).to_have_attribute("data-video", "on", timeout=UI_TIMEOUT_MS)
    await page.screenshot(broadcast.shots, "broadcast-05-promoted-to-webrtc")

    # Sent back to the audience while the room's WebRTC audience is full (the limit here is 0): back
    # to the broadcast, as a listener joining now would be, not left holding a place in the room.
    await broadcast.as_host(
        "PUT", f"/spaces/{broadcast.space_id}/roles/{LISTENER}", json={"role": "listener"}
    )
    await expect(page.by("my-role")).to_have_text("Listener", timeout=UI_TIMEOUT_MS)
    await expect(page.by("broadcast")).to_have_attribute("data-state", "playing", timeout=TURN_TIMEOUT * 1000)
    state = await page.page.evaluate(
        "() => ({ same: window.__sameDocument === true, room: window.spaces.room,"
        " hls: !!window.spaces.broadcast })"
    )
    assert state == {"same": True, "room": None, "hls": True}, state
    await expect(page.by("toggle-mic")).to_have_count(0)

    async def out_of_the_room() -> bool:
        async with lkapi.LiveKitAPI(
            livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
        ) as sfu:
            try:
                await sfu.room.get_participant(
                    lkapi.RoomParticipantIdentity(room=room_name_for(broadcast.space_id), identity=LISTENER)
                )
            except lkapi.TwirpError:
                return True
            return False

    await eventually_async(out_of_the_room, timeout=UI_TIMEOUT_MS / 1000, what="her gone from the SFU's room")


async def test_a_viewer_invited_to_speak_is_asked_and_goes_on_stage_only_on_yes(broadcast: Broadcast) -> None:
    """An invitation from the listener list (no raised hand) reaches a broadcast viewer through
    state.json, under her viewer tag, not her name: her page asks her, and nothing changes until she
    agrees. "Not now" frees the seat and she watches on; asked again, "Join the stage" takes her
    into the room without a reload."""
    page = broadcast.listener
    space_path = f"/spaces/{broadcast.space_id}"
    state_url = f"{broadcast.api_url}/broadcast/{broadcast.space_id}/{names.BROADCAST_STATE}"
    await page.page.evaluate("() => { window.__sameDocument = true; }")
    invited = await broadcast.as_host("POST", f"{space_path}/invitations/{LISTENER}")
    assert LISTENER in invited.json()["invitations"] and LISTENER not in invited.json()["speakers"]
    await expect(page.by("invitation")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.by("broadcast")).to_have_attribute("data-state", "playing")
    await expect(page.by("toggle-mic")).to_have_count(0)
    state = (await broadcast.api.get(state_url)).text
    assert json.loads(state)["invited"] and LISTENER not in state, state
    await page.screenshot(broadcast.shots, "broadcast-08-invited-to-speak")

    await page.by("invitation-decline").click()
    await expect(page.by("invitation")).to_be_hidden()
    assert (await broadcast.as_host("GET", space_path)).json()["invitations"] == {}
    await expect(page.by("broadcast")).to_have_attribute("data-state", "playing")

    await broadcast.as_host("POST", f"{space_path}/invitations/{LISTENER}")
    await expect(page.by("invitation")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await page.by("invitation-accept").click()
    await expect(page.by("my-role")).to_have_text("Speaker", timeout=UI_TIMEOUT_MS)
    await expect(page.by("toggle-mic")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.by("invitation")).to_be_hidden()
    assert await page.page.evaluate("() => window.__sameDocument === true")
    assert LISTENER in (await broadcast.as_host("GET", space_path)).json()["speakers"]

    # Back to the audience, and to the broadcast (the room's WebRTC audience is full), for the rest.
    await broadcast.as_host("PUT", f"{space_path}/roles/{LISTENER}", json={"role": "listener"})
    await expect(page.by("broadcast")).to_have_attribute("data-state", "playing", timeout=TURN_TIMEOUT * 1000)


async def test_a_viewer_the_host_removes_stops_watching_and_a_blocked_one_cannot_come_back(
    broadcast: Broadcast, api_url: str
) -> None:
    """An HLS viewer is in no room to be disconnected from: the removal reaches their page through
    state.json (domain/viewers.py), read from the broadcast's origin as the CDN would serve it."""
    browser = broadcast.page.context.browser
    assert browser is not None
    viewer = await Person.open(browser, api_url, REMOVED_VIEWER)
    try:
        await viewer.sign_in(f"/#/spaces/{broadcast.space_id}")
        await viewer.by("join-space").click()
        await expect(viewer.by("broadcast")).to_have_attribute(
            "data-state", "playing", timeout=TURN_TIMEOUT * 1000
        )
        remove = f"/spaces/{broadcast.space_id}/participants/{REMOVED_VIEWER}/remove"
        await broadcast.as_host("POST", remove)
        await expect(viewer.by("space-message")).to_have_text(
            "You were removed from this Space by a host.", timeout=UI_TIMEOUT_MS
        )
        await expect(viewer.by("broadcast-video")).to_have_count(0)
        assert await viewer.page.evaluate("() => window.spaces.broadcast") is None
        # Nobody else is told (lena, on the broadcast again since her demotion above, reads it too).
        await expect(broadcast.listener.by("space-message")).to_have_count(0)

        # A removal without a block is not a ban: joined again on purpose, the same state.json
        # (which still names the removal) lets this newer grant watch.
        await viewer.by("rejoin").click()
        await expect(viewer.by("broadcast")).to_have_attribute(
            "data-state", "playing", timeout=TURN_TIMEOUT * 1000
        )
        await asyncio.sleep(2 * STATE_POLL_MS / 1000)  # two more reads of state.json
        await expect(viewer.by("broadcast")).to_have_count(1)

        # Blocked: told so, with nothing to join, and a reload does not bring the player back.
        await broadcast.as_host("POST", remove, json={"block": True})
        await expect(viewer.by("space-message")).to_contain_text("blocked", timeout=UI_TIMEOUT_MS)
        await expect(viewer.by("rejoin")).to_have_count(0)
        await expect(viewer.by("broadcast-video")).to_have_count(0)
        await viewer.page.reload()
        # The reloaded card says so too, and offers no Join the API would refuse.
        await expect(viewer.by("space-message")).to_have_text(
            "A host blocked you from this Space: you cannot join it.", timeout=UI_TIMEOUT_MS
        )
        await expect(viewer.by("join-space")).to_have_count(0)
        await expect(viewer.by("broadcast-video")).to_have_count(0)
    finally:
        await viewer.page.context.close()


async def test_a_space_without_a_recording_is_marked_so_and_leaves_no_replay(
    broadcast: Broadcast, launch_browser: LaunchBrowser
) -> None:
    """The create form's "Keep a recording" box, unticked: the Space is broadcast live as any other,
    nobody in it sees the REC badge that a recorded Space's viewers see, and once it ends the lobby
    offers no replay of it."""
    # The module's Space was created without a word about recording (the API's default): kept.
    await expect(broadcast.listener.by("recorded")).to_have_text("REC", timeout=UI_TIMEOUT_MS)
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, broadcast.api_url, "rita")
    try:
        await host.sign_in()
        await expect(host.by("create-record")).to_be_checked()
        await host.by("create-title").fill("Off the record")
        await host.by("create-record").uncheck()
        await host.by("create-submit").click()
        await expect(host.by("start-space")).to_be_visible(timeout=UI_TIMEOUT_MS)
        match = re.search(r"#/spaces/([^/?#]+)$", host.page.url)
        assert match, host.page.url
        space_id = match.group(1)
        await host.start_space()
        await expect(host.by("space-title")).to_have_text("Off the record", timeout=UI_TIMEOUT_MS)
        token = (await broadcast.api.post("/dev/token", json={"user_id": "rita"})).json()["token"]
        rita = {"Authorization": f"Bearer {token}"}
        live = (await broadcast.api.get(f"/spaces/{space_id}", headers=rita)).json()
        # Broadcast all the same (a recorded Space's page would show REC now), but not kept.
        assert live["record"] is False and live["broadcast"] is not None, live
        await expect(host.by("listener-count")).to_be_visible()
        await expect(host.by("recorded")).to_have_count(0)

        async def segments_written() -> bool:
            resp = await broadcast.api.get(f"/broadcast/{space_id}/{names.BROADCAST_PLAYLIST}")
            return resp.status_code == 200 and ".ts" in resp.text

        await eventually_async(
            segments_written, timeout=TURN_TIMEOUT, interval=0.5, what="the live broadcast"
        )
        ended = await broadcast.api.post(f"/spaces/{space_id}/end", headers=rita)
        assert ended.status_code == 200, ended.text
        assert ended.json()["broadcast"] is None and ended.json()["recording_available_until"] is None

        # The composer closes its whole-stream playlist empty: nothing to replay with the id alone.
        async def withdrawn() -> bool:
            resp = await broadcast.api.get(f"/broadcast/{space_id}/{names.BROADCAST_PLAYLIST}")
            return resp.status_code == 200 and "#EXT-X-ENDLIST" in resp.text and ".ts" not in resp.text

        await eventually_async(withdrawn, timeout=TURN_TIMEOUT, interval=0.5, what="the recording withdrawn")
        # Ended, it is listed by the API as any ended Space, and the lobby (once its recordings
        # list has been read: a card or its empty text) offers no replay of it.
        listed = (await broadcast.api.get("/spaces?state=ended", headers=rita)).json()["items"]
        assert space_id in [s["id"] for s in listed]
        await host.page.goto("/#/")
        recordings = host.by("recordings")
        await expect(recordings.locator('[data-testid="space-card"], .empty').first).to_be_visible(
            timeout=UI_TIMEOUT_MS
        )
        await expect(recordings.locator(f'[data-space-id="{space_id}"]')).to_have_count(0)
    finally:
        await host.page.context.close()


async def test_a_page_on_a_scheduled_space_sees_it_start_without_polling_the_api(
    broadcast: Broadcast,
) -> None:
    """A viewer waits on a scheduled Space's link; the host starts it. The page notices through the
    state.json the composer writes at the start, read where the broadcast is served (the CDN in the
    cloud; 404 until then), and offers Join without a reload. It reads the Space from the API only
    once, when it opens: neither while it waits nor at the start (web/src/start_watch.ts)."""
    created = await broadcast.api.post(
        "/spaces",
        json={"title": "Starts soon", "video": "speakers", "scheduled_start": "2031-05-04T18:30:00Z"},
        headers=broadcast.auth[HOST],
    )
    assert created.status_code == 201, created.text
    space_id = created.json()["id"]
    signal = created.json()["start_signal_url"]
    assert signal == f"{broadcast.api_url}/broadcast/{space_id}/{names.BROADCAST_STATE}"
    browser = broadcast.page.context.browser
    assert browser is not None
    waiter = await Person.open(browser, broadcast.api_url, "wendy")
    try:
        await waiter.sign_in(f"/#/spaces/{space_id}")
        await expect(waiter.by("space-message")).to_have_text(
            "This Space has not started yet.", timeout=UI_TIMEOUT_MS
        )

        def api_reads() -> int:
            return sum(1 for url in waiter.requests if url.endswith(f"/spaces/{space_id}"))

        def cdn_reads() -> int:
            return sum(1 for url in waiter.requests if url == signal)

        opened = api_reads()
        assert opened >= 1
        # Two reads of the CDN (403/404 there: not started), and no API read on the way.
        await eventually_async(
            lambda: cdn_reads() >= 2, timeout=60, what="the page reads the start signal twice"
        )
        assert api_reads() == opened
        await broadcast.as_host("POST", f"/spaces/{space_id}/start")
        await expect(waiter.by("join-space")).to_be_visible(timeout=60_000)
        assert api_reads() == opened  # the card was redrawn from the document
        # ... and it joins from there like any card (every listener gets the broadcast here).
        await waiter.by("join-space").click()
        await expect(waiter.by("broadcast")).to_have_attribute(
            "data-state", "playing", timeout=TURN_TIMEOUT * 1000
        )
    finally:
        await broadcast.as_host("POST", f"/spaces/{space_id}/end")
        await waiter.page.context.close()


async def test_the_browsers_own_hls_waits_for_a_playlist_that_is_not_there_yet(
    broadcast: Broadcast, api_url: str
) -> None:
    """A browser without Media Source Extensions (older iOS Safari) plays the stream itself: a
    missing playlist (a Space's first second, a CDN's 404) stops its element for good, and the
    player must ask again. Chromium's own HLS stands in for Safari's, MediaSource removed."""
    browser = broadcast.page.context.browser
    assert browser is not None
    viewer = await Person.open(browser, api_url, "nia")
    try:
        await viewer.page.context.add_init_script(
            "delete window.MediaSource; delete window.ManagedMediaSource; delete window.WebKitMediaSource;"
        )
        # Neither playlist there for the first seconds after the join, as before a Space's first
        # segment: every ask (the player's HEAD probes too) finds nothing.
        there_from: list[float] = []
        missing: list[str] = []

        async def not_yet(route: Route) -> None:
            if not there_from or time.monotonic() < there_from[0]:
                missing.append(f"{route.request.method} {route.request.url}")
                await route.fulfill(status=404, body="")
            else:
                await route.continue_()

        await viewer.page.route(re.compile(r".*/(live|index)\.m3u8$"), not_yet)
        await viewer.sign_in(f"/#/spaces/{broadcast.space_id}")
        there_from.append(time.monotonic() + 4)
        await viewer.by("join-space").click()
        await expect(viewer.by("broadcast")).to_have_attribute(
            "data-state", "playing", timeout=TURN_TIMEOUT * 1000
        )
        assert any(m.startswith("GET ") for m in missing), missing
        assert await viewer.page.evaluate("() => window.spaces.broadcast.hls") is None  # the browser's own
    finally:
        await viewer.page.context.close()


async def test_the_end_closes_the_playlist_and_the_replay_plays_from_the_start(
    broadcast: Broadcast, api_url: str
) -> None:
    # Another listener on the broadcast when the host ends the Space.
    browser = broadcast.page.context.browser
    assert browser is not None
    late = await Person.open(browser, api_url, "leo")
    await late.sign_in(f"/#/spaces/{broadcast.space_id}")
    await late.by("join-space").click()
    await expect(late.by("broadcast")).to_have_attribute("data-state", "playing", timeout=TURN_TIMEOUT * 1000)

    broadcast.talk.stop()
    await broadcast.as_host("POST", f"/spaces/{broadcast.space_id}/end")
    playlist_path = f"/broadcast/{broadcast.space_id}/{names.BROADCAST_PLAYLIST}"

    async def closed() -> bool:
        resp = await broadcast.api.get(playlist_path)
        return resp.status_code == 200 and "#EXT-X-ENDLIST" in resp.text

    await eventually_async(
        closed, timeout=TURN_TIMEOUT, interval=0.5, what="the playlist closed with #EXT-X-ENDLIST"
    )
    # The listener on HLS is told, with the way to the recording.
    await expect(late.by("space-message")).to_have_text("This Space has ended.", timeout=UI_TIMEOUT_MS)
    await expect(late.by("broadcast-video")).to_have_count(0)
    # The card with Replay (once the API has the end) replaces the message the end focused: a
    # keyboard or screen reader user stays on what it says, not thrown back to the top of the page.
    await expect(late.by("space-card")).to_have_attribute("data-state", "ended", timeout=UI_TIMEOUT_MS)
    assert await late.page.evaluate("() => document.activeElement.dataset.testid") == "space-message"
    await late.by("replay").click()
    await expect(late.by("replay-page")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await late.page.context.close()

    # The lobby offers the recording; its Replay opens the replay page.
    page = broadcast.listener
    await page.page.goto("/#/")
    card = page.by("recordings").locator(f'[data-space-id="{broadcast.space_id}"]')
    await expect(card.locator('[data-testid="replay"]')).to_be_visible(timeout=UI_TIMEOUT_MS)
    await card.click()
    await expect(page.by("replay-page")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.by("broadcast-video")).to_have_count(1, timeout=UI_TIMEOUT_MS)

    # It plays from the first segment (the first played range starts at 0) and moves on.
    async def playing_from_start() -> dict[str, float] | None:
        s = await page.page.evaluate(
            """() => { const v = document.querySelector('[data-testid="broadcast-video"]');
                       if (!v.played.length) return null;
                       return { from: v.played.start(0), t: v.currentTime, paused: v.paused }; }"""
        )
        return s if s and not s["paused"] and s["t"] > 0 else None

    first = await eventually_async(
        playing_from_start, timeout=UI_TIMEOUT_MS / 1000, what="the replay playing"
    )
    assert first["from"] < 0.5, first
    # The recording's two renditions, which the composer that ended the Space wrote last.
    played = await page.page.evaluate("() => window.spaces.broadcast.hls.url")
    assert played.endswith(f"/{names.BROADCAST_VARIANTS}"), played
    await eventually_async(
        lambda: page.page.evaluate(
            "(t) => document.querySelector('[data-testid=\"broadcast-video\"]').currentTime > t",
            first["t"] + 1,
        ),
        timeout=UI_TIMEOUT_MS / 1000,
        what="the replay advancing",
    )

    # The speaker timeline names who held the stage; a click on one of bob's turns shows bob.
    segments = page.by("timeline-segment")
    await expect(segments.first).to_be_visible(timeout=UI_TIMEOUT_MS)
    holders = await segments.evaluate_all(
        "(els) => els.map((e) => [e.dataset.holder, Number(e.dataset.mediaStart), e.title])"
    )
    assert {ALICE, BOB} <= {h for h, _, _ in holders}, holders
    starts = [s for _, s, _ in holders]
    assert starts == sorted(starts), holders
    bob_turns = [i for i, (h, _, _) in enumerate(holders) if h == BOB]
    longest = max(
        bob_turns, key=lambda i: (holders[i + 1][1] if i + 1 < len(holders) else float("inf")) - holders[i][1]
    )
    await segments.nth(longest).click()
    await broadcast.sees(BOB, "bob's colour after a click on his turn in the timeline")
    await page.screenshot(broadcast.shots, "broadcast-06-replay")


async def test_a_hidden_replay_hears_the_recordings_sound_alone_and_the_picture_comes_back_where_it_is(
    broadcast: Broadcast,
) -> None:
    page = broadcast.listener
    # The recording, ended by the test before or here, on its replay page (its renditions: the
    # composer that ended the Space wrote them last).
    if not await page.by("replay-page").is_visible():
        if (await broadcast.api.get(f"/spaces/{broadcast.space_id}")).json()["state"] != "ended":
            # Run on its own: a turn of bob's long enough to be heard through the whole hide.
            broadcast.talk.start(broadcast.speakers[BOB])
            await asyncio.sleep(REPLAY_SOUND_ONLY_S + 25)
            broadcast.talk.stop()
            await broadcast.as_host("POST", f"/spaces/{broadcast.space_id}/end")
        await page.page.goto(f"/#/spaces/{broadcast.space_id}/replay")
        await expect(page.by("replay-page")).to_be_visible(timeout=UI_TIMEOUT_MS)
    played = await page.page.evaluate("() => window.spaces.broadcast.hls.url")
    assert played.endswith(f"/{names.BROADCAST_VARIANTS}"), played

    # From the start of bob's longest turn (the one the live hidden page heard), so that there is
    # speech, and recording left, for the whole time the page is hidden.
    segments = page.by("timeline-segment")
    await expect(segments.first).to_be_visible(timeout=UI_TIMEOUT_MS)
    holders = await segments.evaluate_all(
        "(els) => els.map((e) => [e.dataset.holder, Number(e.dataset.mediaStart)])"
    )
    video = "document.querySelector('[data-testid=\"broadcast-video\"]')"
    ends = [start for _, start in holders[1:]] + [await page.page.evaluate(f"() => {video}.duration")]
    longest = max((i for i, (h, _) in enumerate(holders) if h == BOB), key=lambda i: ends[i] - holders[i][1])
    assert ends[longest] - holders[longest][1] > REPLAY_SOUND_ONLY_S + 15, holders
    await segments.nth(longest).click()
    await eventually_async(
        lambda: page.page.evaluate(
            f"(t) => !{video}.paused && {video}.currentTime > t + 1", holders[longest][1]
        ),
        timeout=TURN_TIMEOUT,
        what="the replay playing bob's turn",
    )
    requests: list[tuple[float, str]] = []
    page.page.on("request", lambda r: r.url.endswith(".ts") and requests.append((time.monotonic(), r.url)))

    await page.page.evaluate(VISIBILITY_JS, "hidden")
    await eventually_async(
        lambda: page.page.evaluate("() => window.spaces.broadcast.soundOnly"),
        timeout=TURN_TIMEOUT,
        what="the hidden replay on the recording's sound alone",
    )
    switched = time.monotonic()
    at_switch = await page.page.evaluate(f"() => {video}.currentTime")
    assert await page.page.evaluate(f"() => {video}.paused")
    assert await page.page.evaluate("() => window.spaces.broadcast.state") == "playing"

    await hears_the_sound_alone(page.page, requests, switched + 1)
    while time.monotonic() - switched < REPLAY_SOUND_ONLY_S:
        await asyncio.sleep(1)

    # Shown again: the picture comes back at the sound's moment, not where the video stopped.
    await page.page.evaluate(VISIBILITY_JS, "visible")
    await eventually_async(
        lambda: page.page.evaluate(
            "() => !window.spaces.broadcast.soundOnly && !window.spaces.broadcast.soundAudio"
            f" && !{video}.paused && !{video}.muted"
        ),
        timeout=TURN_TIMEOUT,
        what="the replay's picture back and heard",
    )
    back_at = await page.page.evaluate(f"() => {video}.currentTime")
    assert back_at > at_switch + REPLAY_SOUND_ONLY_S - 5, (at_switch, back_at)
    gaps = await page.page.evaluate("() => window.spaces.broadcast.handoverGapsMs")
    assert len(gaps) == 2 and all(g is not None and abs(g) <= 120 for g in gaps), gaps
