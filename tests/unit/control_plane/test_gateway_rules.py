"""The SFU-facing rule the gateway adds to the domain's permission (no LiveKit, no network)."""

from __future__ import annotations

import pytest

from functions.media.gateway import live_hidden


@pytest.mark.parametrize(
    ("wanted", "now", "after"),
    [
        (True, True, True),  # a listener who never left the audience stays hidden
        (True, False, False),  # a demoted speaker stays visible: the room must see them leave
        (False, True, False),  # a promoted listener is shown to the room
        (False, False, False),
    ],
)
def test_a_live_update_never_hides_a_visible_participant(wanted: bool, now: bool, after: bool) -> None:
    assert live_hidden(wanted=wanted, now=now) is after
