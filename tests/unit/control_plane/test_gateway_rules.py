"""The SFU-facing rule the gateway adds to the domain's permission (no LiveKit, no network)."""

from __future__ import annotations

import pytest

from functions.livekit_edge.gateway import live_hidden


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


def test_every_granted_source_has_an_sfu_track_source() -> None:
    """A source the grants hand out but the gateway cannot name would fail every permission update."""
    from livekit import api as lk

    from functions.domain.grants import permission_for
    from functions.domain.model import Role, VideoPolicy
    from functions.livekit_edge.gateway import _track_source

    for role in Role:
        for video in VideoPolicy:
            for source in permission_for(role, video).sources:
                assert lk.TrackSource.Name(_track_source(source)).lower() == source
