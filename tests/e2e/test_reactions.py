"""Reactions as people meet them (issue 10), in real browsers against the real SFU and API.

Two listeners tap emoji; every page in the room, the host's and the listeners' own, shows the
reactions floating over the stage. The room receives the control plane's aggregated message
(topic `spaces.reactions`, docs/reactions.md), never the listeners' own data: listeners have no
data-publish right. The last reactions of the burst have no reaction after them, so they arrive
through the reconciler's sweep (every 5 s in local mode), which this test therefore covers too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import expect

from contract.names import REACTION_EMOJI
from tests.e2e.conftest import LaunchBrowser
from tests.e2e.spaces_page import UI_TIMEOUT_MS, Person

HOST, ANA, BEN = "host-rosa", "listener-ana", "listener-ben"
FIRE = REACTION_EMOJI.index("🔥")
CLAP = REACTION_EMOJI.index("👏")


@dataclass
class Audience:
    space_id: str
    host: Person
    listeners: tuple[Person, Person]


@pytest.fixture(scope="module")
async def audience(
    api_url: str, stage_agent: object, launch_browser: LaunchBrowser
) -> AsyncIterator[Audience]:
    browser = await launch_browser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    host = await Person.open(browser, api_url, HOST)
    ana = await Person.open(browser, api_url, ANA)
    ben = await Person.open(browser, api_url, BEN)
    await host.sign_in()
    space_id = await host.create_space("Applause, please", video="off")
    await host.start_space()
    for listener in (ana, ben):
        await listener.sign_in(f"/#/spaces/{space_id}")
        await listener.join(space_id)
        await expect(listener.by("raise-hand")).to_be_visible(timeout=UI_TIMEOUT_MS)
    yield Audience(space_id, host, (ana, ben))


def shown(person: Person):  # noqa: ANN201 - a Locator
    return person.by("reactions-overlay")


async def test_listeners_reactions_float_over_everyones_stage(audience: Audience) -> None:
    ana, ben = audience.listeners
    await ana.by(f"reaction-{FIRE}").click()
    await ben.by(f"reaction-{FIRE}").click()
    await ben.by(f"reaction-{CLAP}").click(timeout=UI_TIMEOUT_MS)  # the bar pauses 1 s after a tap

    # Three reactions in all, whichever windows they fell in, on every page in the room.
    for person in (audience.host, ana, ben):
        await expect(shown(person)).to_have_attribute("data-total", "3", timeout=UI_TIMEOUT_MS)
    # They float over the stage as the emoji that were tapped (bubbles live a few seconds).
    for person in (audience.host, ana, ben):
        emoji = await shown(person).evaluate(
            "el => [...el.querySelectorAll('.reaction-bubble')].map(b => b.dataset.emoji)"
        )
        assert set(emoji) <= {"🔥", "👏"}, emoji


async def test_a_listener_has_no_right_to_send_room_data(audience: Audience) -> None:
    """What makes the aggregate the only path: the SFU refuses a listener's own data packet."""
    ana = audience.listeners[0]
    can = await ana.page.evaluate("() => window.spaces.room.localParticipant.permissions?.canPublishData")
    assert can is False
