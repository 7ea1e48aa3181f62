"""The host's rules (functions/domain/host.py): handover and the grace period, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.domain import host
from functions.domain.errors import Conflict, Forbidden
from functions.domain.model import Role, Space, SpaceState, VideoPolicy

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
GRACE = timedelta(seconds=120)


def live(**changes: object) -> Space:
    space = Space(
        id="s1",
        title="t",
        host="ann",
        video=VideoPolicy.HOST,
        created_at=T0,
        state=SpaceState.LIVE,
        started_at=T0,
        cohosts=("cal", "cy"),
        speakers=("sue",),
        # Everyone on stage has joined (their join token named them).
        names={"ann": "Ann", "cal": "Cal", "cy": "Cy", "sue": "Sue"},
    )
    return space.replace(**changes)


def test_the_host_hands_over_to_a_cohost_and_stays_as_a_cohost() -> None:
    after = host.hand_over(live(), actor="ann", target="cal", present=True)
    assert after.host == "cal" and after.role_of("cal") is Role.HOST
    assert after.role_of("ann") is Role.COHOST and after.cohosts == ("ann", "cy")
    assert after.speakers == ("sue",)


def test_handover_restarts_the_grace_clock_for_the_new_host() -> None:
    after = host.hand_over(live(host_away_since=T0), actor="ann", target="cy", present=True)
    assert after.host_away_since is None


@pytest.mark.parametrize(
    ("actor", "rule"), [("cal", "only_host_hands_over"), ("sue", "only_host_hands_over")]
)
def test_only_the_host_hands_over(actor: str, rule: str) -> None:
    with pytest.raises(Forbidden) as err:
        host.hand_over(live(), actor=actor, target="cy", present=True)
    assert err.value.rule == rule


@pytest.mark.parametrize(
    ("target", "rule"), [("sue", "not_a_cohost"), ("lou", "not_a_cohost"), ("ann", "already_host")]
)
def test_only_a_cohost_can_become_the_host(target: str, rule: str) -> None:
    with pytest.raises(Conflict) as err:
        host.hand_over(live(), actor="ann", target=target, present=True)
    assert err.value.rule == rule


@pytest.mark.parametrize("state", [SpaceState.LIVE, SpaceState.SCHEDULED])
def test_a_cohost_who_never_joined_is_not_handed_the_space(state: SpaceState) -> None:
    """Anyone can be made a co-host unasked; the host's role (the Space in their name, their
    quotas) goes only to one who came. A scheduled Space has had nobody in it yet."""
    never_came = live(state=state, names={"ann": "Ann", "cal": "Cal"})
    with pytest.raises(Conflict) as err:
        host.hand_over(never_came, actor="ann", target="cy", present=True)
    assert err.value.rule == "cohost_not_joined" and "cy has not joined" in err.value.message
    assert host.hand_over(live(), actor="ann", target="cy", present=True).host == "cy"


def test_a_live_space_is_handed_only_to_a_cohost_in_the_room() -> None:
    """Found by an outside review: handed to a co-host who joined once and left, the Space started
    its grace period in the same request and ended two minutes after a 200."""
    with pytest.raises(Conflict) as err:
        host.hand_over(live(), actor="ann", target="cal", present=False)
    assert err.value.rule == "cohost_not_present" and "cal is not in the Space now" in err.value.message
    assert host.hand_over(live(), actor="ann", target="cal", present=True).host == "cal"


def test_an_ended_space_is_not_handed_over() -> None:
    with pytest.raises(Conflict) as err:
        host.hand_over(live(state=SpaceState.ENDED), actor="ann", target="cal", present=True)
    assert err.value.rule == "space_ended"


def test_the_first_known_departure_of_the_host_counts() -> None:
    space = live()
    left = host.host_left(space, user="ann", now=T0)
    assert left.host_away_since == T0
    assert host.host_left(left, user="ann", now=T0 + GRACE) is left
    assert host.host_left(space, user="cal", now=T0) is space  # a co-host leaving is not the host
    assert host.host_left(live(state=SpaceState.SCHEDULED), user="ann", now=T0).host_away_since is None


def test_the_host_coming_back_clears_the_departure() -> None:
    away = live(host_away_since=T0)
    assert host.host_back(away, user="ann").host_away_since is None
    assert host.host_back(away, user="cal") is away
    assert host.host_back(live(), user="ann").host_away_since is None


def test_a_space_ends_once_the_host_is_gone_for_the_whole_grace_period() -> None:
    away = live(host_away_since=T0, pinned="sue")
    assert host.abandoned(away, now=T0 + GRACE - timedelta(seconds=1), grace=GRACE) is away
    ended = host.abandoned(away, now=T0 + GRACE, grace=GRACE)
    assert ended.state is SpaceState.ENDED and ended.ended_at == T0 + GRACE and ended.pinned is None
    # Back in time (checked on the latest state): nothing ends; an ended Space stays as it is.
    assert host.abandoned(live(), now=T0 + 10 * GRACE, grace=GRACE).state is SpaceState.LIVE
    assert host.abandoned(ended, now=T0 + 10 * GRACE, grace=GRACE) is ended
