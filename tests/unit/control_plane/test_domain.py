"""The rules, without HTTP, a database or LiveKit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from contract import names
from functions.domain import grants, lifecycle, people, pushed, stage
from functions.domain.errors import Conflict, Forbidden
from functions.domain.model import (
    Invitation,
    Limits,
    Role,
    Space,
    SpaceState,
    VideoPolicy,
    VideoSource,
    room_name_for,
    space_id_from_room,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_cohosts=2, max_speakers=3, max_raised_hands=2, max_blocked=2)


def space(**changes: object) -> Space:
    base = lifecycle.new_space(
        space_id="a" * 32, title="t", host="host", video=VideoPolicy.SPEAKERS, now=NOW, scheduled_start=None
    )
    return base.replace(**changes)


LIVE = space(state=SpaceState.LIVE, started_at=NOW)


# --- lifecycle -----------------------------------------------------------------------------------
def test_only_the_host_starts_a_scheduled_space() -> None:
    with pytest.raises(Forbidden) as err:
        lifecycle.start(space(), actor="bob", now=NOW)
    assert err.value.rule == "only_host_starts"
    started = lifecycle.start(space(), actor="host", now=NOW)
    assert started.state is SpaceState.LIVE and started.started_at == NOW


def test_starting_an_ended_space_is_a_conflict() -> None:
    ended = lifecycle.end(LIVE, actor="host", now=NOW)
    with pytest.raises(Conflict) as err:
        lifecycle.start(ended, actor="host", now=NOW)
    assert err.value.rule == "space_not_scheduled"
    with pytest.raises(Conflict):
        lifecycle.end(ended, actor="host", now=NOW)


def test_only_the_host_ends() -> None:
    with pytest.raises(Forbidden) as err:
        lifecycle.end(LIVE.replace(cohosts=("co",)), actor="co", now=NOW)
    assert err.value.rule == "only_host_ends"


def test_room_closed_ends_a_live_space_once() -> None:
    ended = lifecycle.room_closed(LIVE.replace(raised_hands=("x",), pinned="host"), now=NOW)
    assert ended.state is SpaceState.ENDED and ended.raised_hands == () and ended.pinned is None
    assert lifecycle.room_closed(ended, now=NOW) is ended
    scheduled = space()
    assert lifecycle.room_closed(scheduled, now=NOW) is scheduled


def test_an_end_clears_a_screen_share_pin_back_to_no_pin() -> None:
    pinned = LIVE.replace(pinned="host", pinned_source=VideoSource.SCREEN_SHARE)
    for ended in (lifecycle.end(pinned, actor="host", now=NOW), lifecycle.room_closed(pinned, now=NOW)):
        assert ended.pinned is None and ended.pinned_source is VideoSource.CAMERA


def test_room_names_are_derived_from_the_space_id() -> None:
    assert room_name_for("abc") == "space-abc"
    assert space_id_from_room("space-abc") == "abc"
    assert space_id_from_room("other-room") is None
    assert space_id_from_room("space-") is None


# --- roles ---------------------------------------------------------------------------------------
def test_host_assigns_cohosts_up_to_the_limit() -> None:
    s = stage.change_role(LIVE, actor="host", target="a", role=Role.COHOST, limits=LIMITS, now=NOW)
    s = stage.change_role(s, actor="host", target="b", role=Role.COHOST, limits=LIMITS, now=NOW)
    assert s.cohosts == ("a", "b")
    with pytest.raises(Conflict) as err:
        stage.change_role(s, actor="host", target="c", role=Role.COHOST, limits=LIMITS, now=NOW)
    assert err.value.rule == "cohost_limit"


def test_cohosts_promote_speakers_but_not_cohosts() -> None:
    s = LIVE.replace(cohosts=("co", "co2"))
    s2 = stage.change_role(s, actor="co", target="x", role=Role.SPEAKER, limits=LIMITS, now=NOW)
    assert s2.speakers == ("x",)
    with pytest.raises(Forbidden) as err:
        stage.change_role(s, actor="co", target="x", role=Role.COHOST, limits=LIMITS, now=NOW)
    assert err.value.rule == "only_host_assigns_cohosts"
    with pytest.raises(Forbidden) as err:
        stage.change_role(s, actor="co", target="co2", role=Role.LISTENER, limits=LIMITS, now=NOW)
    assert err.value.rule == "only_host_assigns_cohosts"


def test_a_change_meant_for_a_role_the_person_left_changes_nothing() -> None:
    s = LIVE.replace(cohosts=("co",), speakers=("sam",))
    # An invitation from a stale audience list: a co-host stays a co-host, a host-made co-host or
    # speaker sent back to the stage is not demoted either.
    for target, role, now in (("co", Role.SPEAKER, "a co-host"), ("sam", Role.COHOST, "a speaker")):
        with pytest.raises(Conflict) as err:
            stage.change_role(
                s, actor="host", target=target, role=role, limits=LIMITS, now=NOW, from_role=Role.LISTENER
            )
        assert err.value.rule == "role_changed"
        assert f"they are {now} now, not in the audience" in err.value.message
    # Already what was asked (someone else invited them, or this is a retry): nothing to change.
    assert (
        stage.change_role(
            s, actor="host", target="sam", role=Role.SPEAKER, limits=LIMITS, now=NOW, from_role=Role.LISTENER
        )
        is s
    )
    # Still what the caller saw: applied as without it.
    invited = stage.change_role(
        s, actor="host", target="lee", role=Role.SPEAKER, limits=LIMITS, now=NOW, from_role=Role.LISTENER
    )
    assert invited.speakers == ("sam", "lee")
    demoted = stage.change_role(
        s, actor="host", target="co", role=Role.SPEAKER, limits=LIMITS, now=NOW, from_role=Role.COHOST
    )
    assert (demoted.cohosts, demoted.speakers) == ((), ("sam", "co"))
    # A co-host's stale row for someone made co-host since: out of date too (roles are public).
    with pytest.raises(Conflict) as err:
        stage.change_role(
            s.replace(cohosts=("co", "co2")),
            actor="co",
            target="co2",
            role=Role.SPEAKER,
            limits=LIMITS,
            now=NOW,
            from_role=Role.LISTENER,
        )
    assert err.value.rule == "role_changed"
    # A repeat of a change that went through (a double click, a retried PUT) is a no-op, not a 409.
    again = stage.change_role(
        invited,
        actor="host",
        target="lee",
        role=Role.SPEAKER,
        limits=LIMITS,
        now=NOW,
        from_role=Role.LISTENER,
    )
    assert again is invited


@pytest.mark.parametrize("actor", ["speaker", "listener"])
def test_speakers_and_listeners_change_no_roles(actor: str) -> None:
    s = LIVE.replace(speakers=("speaker",))
    with pytest.raises(Forbidden) as err:
        stage.change_role(s, actor=actor, target="x", role=Role.SPEAKER, limits=LIMITS, now=NOW)
    assert err.value.rule == "moderators_only"


@pytest.mark.parametrize("who", ["speaker", "cohost"])
def test_a_speaker_or_cohost_steps_down_to_the_audience_themselves(who: str) -> None:
    """Their slot is free at once (found from outside: someone who walked away held it until a
    moderator noticed); the pin on them goes, as with any demotion."""
    s = LIVE.replace(speakers=("speaker", "other"), cohosts=("cohost",), pinned=who)
    down = stage.change_role(
        s, actor=who, target=who, role=Role.LISTENER, limits=LIMITS, now=NOW, from_role=Role(who)
    )
    assert down.role_of(who) is Role.LISTENER and down.pinned is None
    assert down.role_of("other") is Role.SPEAKER and down.host == "host"
    # Only down: a speaker moves no one else and cannot move up; a co-host's own seat is the host's
    # to change otherwise.
    refused = (
        [("speaker", Role.COHOST), ("other", Role.LISTENER)]
        if who == "speaker"
        else [("cohost", Role.SPEAKER)]
    )
    for target, role in refused:
        with pytest.raises(Forbidden):
            stage.change_role(s, actor=who, target=target, role=role, limits=LIMITS, now=NOW)
    # Sent again (a retry, a second tab): the no-op any repeat of a change that went through is.
    assert stage.change_role(down, actor=who, target=who, role=Role.LISTENER, limits=LIMITS, now=NOW) is down
    # A listener moves no one up, themselves included.
    with pytest.raises(Forbidden):
        stage.change_role(down, actor=who, target=who, role=Role.SPEAKER, limits=LIMITS, now=NOW)


def test_the_host_role_is_fixed() -> None:
    with pytest.raises(Forbidden) as err:
        stage.change_role(LIVE, actor="host", target="host", role=Role.LISTENER, limits=LIMITS, now=NOW)
    assert err.value.rule == "host_role_fixed"
    with pytest.raises(Forbidden):
        stage.change_role(LIVE, actor="host", target="x", role=Role.HOST, limits=LIMITS, now=NOW)


def test_speaker_limit_and_promotion_answers_the_hand() -> None:
    s = LIVE.replace(speakers=("a", "b"), raised_hands=("c", "d"))
    s = stage.change_role(s, actor="host", target="c", role=Role.SPEAKER, limits=LIMITS, now=NOW)
    assert s.speakers == ("a", "b", "c") and s.raised_hands == ("d",)
    with pytest.raises(Conflict) as err:
        stage.change_role(s, actor="host", target="d", role=Role.SPEAKER, limits=LIMITS, now=NOW)
    assert err.value.rule == "speaker_limit"


def test_moving_a_cohost_to_speaker_frees_the_cohost_seat() -> None:
    s = LIVE.replace(cohosts=("a",))
    s = stage.change_role(s, actor="host", target="a", role=Role.SPEAKER, limits=LIMITS, now=NOW)
    assert s.cohosts == () and s.speakers == ("a",)


def test_demotion_clears_the_pin_and_same_role_is_a_no_op() -> None:
    s = LIVE.replace(speakers=("a",), pinned="a")
    assert stage.change_role(s, actor="host", target="a", role=Role.SPEAKER, limits=LIMITS, now=NOW) is s
    demoted = stage.change_role(s, actor="host", target="a", role=Role.LISTENER, limits=LIMITS, now=NOW)
    assert demoted.speakers == () and demoted.pinned is None


def test_blocked_users_cannot_be_put_on_stage() -> None:
    with pytest.raises(Conflict) as err:
        stage.change_role(
            LIVE.replace(blocked=("x",)), actor="host", target="x", role=Role.SPEAKER, limits=LIMITS, now=NOW
        )
    assert err.value.rule == "user_blocked"


def test_roles_cannot_change_in_an_ended_space() -> None:
    with pytest.raises(Conflict) as err:
        stage.change_role(
            LIVE.replace(state=SpaceState.ENDED),
            actor="host",
            target="x",
            role=Role.SPEAKER,
            limits=LIMITS,
            now=NOW,
        )
    assert err.value.rule == "space_ended"


# --- hands, remove, mute, pin, join --------------------------------------------------------------
def test_hands_need_a_live_space_a_listener_and_room_in_the_queue() -> None:
    with pytest.raises(Conflict) as err:
        stage.raise_hand(space(), user="x", limits=LIMITS)
    assert err.value.rule == "space_not_live"
    s = stage.raise_hand(LIVE, user="x", limits=LIMITS)
    assert stage.raise_hand(s, user="x", limits=LIMITS) is s
    s = stage.raise_hand(s, user="y", limits=LIMITS)
    with pytest.raises(Conflict) as err:
        stage.raise_hand(s, user="z", limits=LIMITS)
    assert err.value.rule == "hand_queue_full"
    with pytest.raises(Conflict) as err:
        stage.raise_hand(LIVE, user="host", limits=LIMITS)
    assert err.value.rule == "already_on_stage"
    assert stage.lower_hand(s, user="x").raised_hands == ("y",)
    assert stage.lower_hand(LIVE, user="x") is LIVE


def test_remove_with_block_takes_everything_away() -> None:
    s = LIVE.replace(speakers=("x",), pinned="x")
    removed = stage.remove(s, actor="host", target="x", block=True, limits=LIMITS)
    assert removed.speakers == () and removed.pinned is None and removed.blocked == ("x",)
    with pytest.raises(Forbidden) as err:
        stage.join_role(removed, user="x")
    assert err.value.rule == "blocked"
    with pytest.raises(Forbidden):
        stage.raise_hand(removed, user="x", limits=LIMITS)
    assert stage.join_role(
        stage.remove(s, actor="host", target="x", block=False, limits=LIMITS), user="x"
    ) is (Role.LISTENER)


def test_remove_protects_the_host_and_cohosts() -> None:
    s = LIVE.replace(cohosts=("co", "co2"), speakers=("sp",))
    with pytest.raises(Forbidden) as err:
        stage.remove(s, actor="co", target="host", block=True, limits=LIMITS)
    assert err.value.rule == "host_protected"
    with pytest.raises(Forbidden) as err:
        stage.remove(s, actor="co", target="co2", block=False, limits=LIMITS)
    assert err.value.rule == "only_host_moderates_cohosts"
    with pytest.raises(Forbidden) as err:
        stage.remove(s, actor="sp", target="x", block=False, limits=LIMITS)
    assert err.value.rule == "moderators_only"
    assert stage.remove(s, actor="co", target="sp", block=False, limits=LIMITS).speakers == ()


# --- invitations to speak -------------------------------------------------------------------------
LATER = NOW + timedelta(seconds=stage.INVITATION_SECONDS)


def invite(s: Space, target: str, *, actor: str = "host", now: datetime = NOW) -> Space:
    return stage.invite(s, actor=actor, target=target, tag=f"tag-{target}", limits=LIMITS, now=now)


def test_an_invitation_waits_for_the_listeners_answer() -> None:
    s = invite(LIVE, "lee")
    # Nothing about them changes until they agree: still in the audience, unnamed, no grant.
    assert s.role_of("lee") is Role.LISTENER and "lee" not in s.names
    assert s.invited == {"lee": Invitation(until=LATER, tag="tag-lee")}
    assert json.loads(grants.room_metadata(s, host_grace=60))["invited"] == {
        "tag-lee": round(LATER.timestamp() * 1000)
    }
    on = stage.accept_invitation(s, user="lee", limits=LIMITS, now=NOW + timedelta(seconds=30))
    assert on.role_of("lee") is Role.SPEAKER and on.invited == {}
    # A repeat of the answer once on stage changes nothing.
    assert stage.accept_invitation(on, user="lee", limits=LIMITS, now=NOW) is on
    # Declined: the seat is free again, and they stay in the audience.
    off = stage.decline_invitation(s, actor="lee", target="lee", now=NOW)
    assert off.invited == {} and off.role_of("lee") is Role.LISTENER
    assert stage.decline_invitation(off, actor="lee", target="lee", now=NOW) is off


def test_an_answer_to_no_invitation_is_refused() -> None:
    s = invite(LIVE, "lee")
    for late in (LATER, LATER + timedelta(seconds=1)):  # lapsed
        with pytest.raises(Conflict) as err:
            stage.accept_invitation(s, user="lee", limits=LIMITS, now=late)
        assert err.value.rule == names.NOT_INVITED_RULE
    with pytest.raises(Conflict) as err:
        stage.accept_invitation(s, user="someone-else", limits=LIMITS, now=NOW)
    assert err.value.rule == names.NOT_INVITED_RULE
    withdrawn = stage.decline_invitation(s, actor="host", target="lee", now=NOW)
    with pytest.raises(Conflict) as err:
        stage.accept_invitation(withdrawn, user="lee", limits=LIMITS, now=NOW)
    assert err.value.rule == names.NOT_INVITED_RULE
    # Only moderators withdraw someone else's; anyone may decline their own.
    with pytest.raises(Forbidden):
        stage.decline_invitation(s, actor="lee2", target="lee", now=NOW)


def test_invitations_hold_speaker_seats() -> None:
    s = invite(invite(LIVE.replace(speakers=("s1",)), "a"), "b")  # 3 seats: one taken, two held
    with pytest.raises(Conflict) as err:
        invite(s, "c")
    assert err.value.rule == "speaker_limit" and "2 held by invitations" in err.value.message
    # Approving a hand cannot take a held seat either...
    with pytest.raises(Conflict):
        stage.change_role(
            s.replace(raised_hands=("c",)),
            actor="host",
            target="c",
            role=Role.SPEAKER,
            limits=LIMITS,
            now=NOW,
        )
    # ...but an invitee's own seat is theirs, and sending the invitation again restarts its wait.
    assert stage.accept_invitation(s, user="b", limits=LIMITS, now=NOW).speakers == ("s1", "b")
    again = invite(s, "a", now=NOW + timedelta(seconds=60))
    assert again.invited["a"].until == LATER + timedelta(seconds=60)
    # A lapsed invitation holds nothing: the next write drops it.
    later = invite(s, "c", now=LATER)
    assert set(later.invited) == {"c"}


def test_who_may_be_invited() -> None:
    with pytest.raises(Forbidden):
        invite(LIVE, "lee", actor="lee2")  # listeners do not invite
    with pytest.raises(Conflict) as err:
        invite(LIVE.replace(speakers=("s1",)), "s1")
    assert err.value.rule == names.ROLE_CHANGED_RULE
    with pytest.raises(Conflict) as err:
        invite(LIVE.replace(blocked=("lee",)), "lee")
    assert err.value.rule == names.USER_BLOCKED_RULE
    with pytest.raises(Conflict):
        invite(space(), "lee")  # not live
    # A co-host invites too; a raised hand asked already, so it is answered at once.
    co = LIVE.replace(cohosts=("co",))
    assert invite(co, "lee", actor="co").invited["lee"].tag == "tag-lee"
    hand = invite(co.replace(raised_hands=("lee",)), "lee")
    assert hand.role_of("lee") is Role.SPEAKER and hand.raised_hands == () and hand.invited == {}


def test_removal_and_promotion_take_the_invitation_away() -> None:
    s = invite(LIVE, "lee")
    removed = stage.remove(s, actor="host", target="lee", block=False, limits=LIMITS)
    assert removed.invited == {}
    promoted = stage.change_role(s, actor="host", target="lee", role=Role.SPEAKER, limits=LIMITS, now=NOW)
    assert promoted.invited == {} and promoted.role_of("lee") is Role.SPEAKER


def test_the_end_clears_invitations_and_a_lapsed_or_ended_one_has_nothing_to_withdraw() -> None:
    s = invite(LIVE, "lee")
    over = lifecycle.end(s, actor="host", now=NOW)
    assert over.invited == {}
    assert stage.decline_invitation(over, actor="host", target="lee", now=NOW) is over
    assert stage.decline_invitation(s, actor="host", target="lee", now=LATER) is s  # lapsed: no write


def test_only_moderators_and_the_invitee_see_an_invitation() -> None:
    s = invite(invite(LIVE.replace(cohosts=("co",)), "a"), "b")
    assert set(stage.as_seen_by(s, "co").invited) == {"a", "b"}
    assert set(stage.as_seen_by(s, "a").invited) == {"a"}
    assert stage.as_seen_by(s, "zed").invited == {}


def test_block_list_limit() -> None:
    s = LIVE.replace(blocked=("a", "b"))
    with pytest.raises(Conflict) as err:
        stage.remove(s, actor="host", target="c", block=True, limits=LIMITS)
    assert err.value.rule == "block_list_full"


def test_mute_rules() -> None:
    s = LIVE.replace(cohosts=("co",), speakers=("sp",))
    stage.authorize_mute(s, actor="co", target="sp")
    stage.authorize_mute(s, actor="sp", target="sp")  # muting yourself is always fine
    with pytest.raises(Forbidden):
        stage.authorize_mute(s, actor="sp", target="co")
    with pytest.raises(Forbidden):
        stage.authorize_mute(s, actor="co", target="host")
    with pytest.raises(Conflict) as err:
        stage.authorize_mute(s, actor="host", target="listener")
    assert err.value.rule == "not_on_stage"


def test_only_the_host_pins_someone_on_stage() -> None:
    s = LIVE.replace(speakers=("sp",), cohosts=("co",))
    assert stage.pin(s, actor="host", target="sp").pinned == "sp"
    assert stage.pin(s.replace(pinned="sp"), actor="host", target=None).pinned is None
    with pytest.raises(Forbidden) as err:
        stage.pin(s, actor="co", target="sp")
    assert err.value.rule == "only_host_pins"
    with pytest.raises(Conflict) as err:
        stage.pin(s, actor="host", target="listener")
    assert err.value.rule == "pin_not_on_stage"


def test_the_host_pins_the_screen_share_of_the_host_or_a_cohost() -> None:
    s = LIVE.replace(speakers=("sp",), cohosts=("co",))
    pinned = stage.pin(s, actor="host", target="co", source=VideoSource.SCREEN_SHARE)
    assert (pinned.pinned, pinned.pinned_source) == ("co", VideoSource.SCREEN_SHARE)
    assert stage.pin(pinned, actor="host", target="co", source=VideoSource.SCREEN_SHARE) is pinned
    camera = stage.pin(pinned, actor="host", target="co")
    assert (camera.pinned, camera.pinned_source) == ("co", VideoSource.CAMERA)
    unpinned = stage.pin(pinned, actor="host", target=None)
    assert (unpinned.pinned, unpinned.pinned_source) == (None, VideoSource.CAMERA)
    # Null unpins whatever the source says.
    unpinned = stage.pin(pinned, actor="host", target=None, source=VideoSource.SCREEN_SHARE)
    assert (unpinned.pinned, unpinned.pinned_source) == (None, VideoSource.CAMERA)
    host_screen = stage.pin(s, actor="host", target="host", source=VideoSource.SCREEN_SHARE)
    assert host_screen.pinned_source is VideoSource.SCREEN_SHARE


@pytest.mark.parametrize(
    ("changes", "target", "rule"),
    [
        ({}, "sp", "pin_screen_not_allowed"),
        ({"video": VideoPolicy.OFF}, "co", "pin_screen_not_allowed"),
        ({}, "listener", "pin_not_on_stage"),
    ],
)
def test_a_screen_pin_needs_someone_who_may_share(
    changes: dict[str, object], target: str | None, rule: str
) -> None:
    s = LIVE.replace(speakers=("sp",), cohosts=("co",), **changes)
    with pytest.raises(Conflict) as err:
        stage.pin(s, actor="host", target=target, source=VideoSource.SCREEN_SHARE)
    assert err.value.rule == rule


def test_a_screen_pin_follows_the_cohost_off_their_seat() -> None:
    s = LIVE.replace(cohosts=("co",), pinned="co", pinned_source=VideoSource.SCREEN_SHARE)
    speaker = stage.change_role(s, actor="host", target="co", role=Role.SPEAKER, limits=LIMITS, now=NOW)
    assert (speaker.pinned, speaker.pinned_source) == ("co", VideoSource.CAMERA)
    removed = stage.remove(s, actor="host", target="co", block=False, limits=LIMITS)
    assert (removed.pinned, removed.pinned_source) == (None, VideoSource.CAMERA)


def test_join_needs_a_live_space() -> None:
    with pytest.raises(Conflict):
        stage.join_role(space(), user="x")
    assert stage.join_role(LIVE.replace(speakers=("sp",)), user="sp") is Role.SPEAKER
    assert stage.join_role(LIVE, user="host") is Role.HOST
    assert stage.join_role(LIVE, user="anyone") is Role.LISTENER


# --- grants --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "video", "sources"),
    [
        (Role.HOST, VideoPolicy.OFF, ("microphone",)),
        (Role.HOST, VideoPolicy.HOST, ("microphone", "camera", "screen_share")),
        (Role.HOST, VideoPolicy.SPEAKERS, ("microphone", "camera", "screen_share")),
        (Role.COHOST, VideoPolicy.OFF, ("microphone",)),
        (Role.COHOST, VideoPolicy.HOST, ("microphone", "screen_share")),
        (Role.COHOST, VideoPolicy.SPEAKERS, ("microphone", "camera", "screen_share")),
        (Role.SPEAKER, VideoPolicy.SPEAKERS, ("microphone", "camera")),
        (Role.SPEAKER, VideoPolicy.OFF, ("microphone",)),
    ],
)
def test_stage_roles_publish_microphone_and_camera_by_policy(
    role: Role, video: VideoPolicy, sources: tuple[str, ...]
) -> None:
    p = grants.permission_for(role, video)
    assert p.can_publish and p.sources == sources and not p.hidden and not p.can_update_own_metadata
    # Media only: data from one speaker would fan out to the whole audience, unthrottled.
    assert p.can_publish_data is False


@pytest.mark.parametrize("video", list(VideoPolicy))
def test_listeners_never_publish(video: VideoPolicy) -> None:
    p = grants.permission_for(Role.LISTENER, video)
    assert p.can_publish is False and p.sources == () and p.can_publish_data is False
    assert p.hidden and p.can_subscribe


def test_room_metadata_follows_the_contract() -> None:
    named = {"host": "Hana", "s1": "Sam", "l1": "Lee"}
    faces = {"s1": "https://img.example/s1.png", "l1": "https://img.example/l1.png"}
    waiting = Invitation(until=NOW + timedelta(seconds=120), tag="tAg-Q9_x")
    shown = LIVE.replace(
        pinned="host",
        speakers=("s1",),
        raised_hands=("l1",),
        names=named,
        pictures=faces,
        invited={"l2": waiting},
        record=False,
    )
    raw = grants.room_metadata(shown, host_grace=120.0)
    doc = json.loads(raw)
    assert "l2" not in raw  # an invitation names the invitee's tag, not the invitee
    assert doc == {
        "space_id": LIVE.id,
        "video": "speakers",
        "record": False,
        "pinned": "host",
        "pinned_source": "camera",
        "title": "t",
        "state": "live",
        "host": LIVE.host,
        "cohosts": list(LIVE.cohosts),
        "speakers": ["s1"],
        # Stage members only: a raised hand's name goes to the moderators, not to everyone.
        "names": {"host": "Hana", "s1": "Sam"},
        # Likewise faces.
        "pictures": {"s1": "https://img.example/s1.png"},
        "listener_count": LIVE.listener_count,
        "version": LIVE.version,
        "host_away_until": None,  # the host is there
        "removed_viewers": {},
        "invited": {"tAg-Q9_x": round(waiting.until.timestamp() * 1000)},
    }
    assert grants.participant_attributes(Role.SPEAKER) == {names.ROLE_ATTRIBUTE: "speaker"}


# ---- pushed documents (functions/domain/pushed.py) ---------------------------------------------


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, 0),
        (1, 1),
        (99, 99),
        (100, 100),
        (109, 100),
        (999, 990),
        (1234, 1200),
        (56_789, 56_000),
        (100_001, 100_000),
    ],
)
def test_listener_count_is_exact_when_small_and_rounded_down_when_large(count: int, shown: int) -> None:
    from functions.domain.pushed import rounded_listener_count

    assert rounded_listener_count(count) == shown


def test_metadata_changes_only_with_what_viewers_see() -> None:
    from datetime import UTC, datetime

    from functions.domain.model import Space, SpaceState, VideoPolicy
    from functions.domain.pushed import room_state

    def shown(s: Space) -> dict[str, object]:
        """What the room metadata says of the Space, its version aside."""
        return room_state(s, host_grace=120.0).to_dict() | {"version": 0}

    space = Space(
        id="s",
        title="T",
        host="h",
        video=VideoPolicy.OFF,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        state=SpaceState.LIVE,
        listener_count=1200,
    )
    assert shown(space.replace(listener_count=1201, version=3, raised_hands=("x",))) == shown(space)
    assert shown(space.replace(listener_count=1300)) != shown(space)
    assert shown(space.replace(speakers=("x",))) != shown(space)
    assert shown(space.replace(state=SpaceState.ENDED)) != shown(space)


def test_a_record_stored_before_screen_sharing_reads_as_a_camera_pin() -> None:
    from functions.store.base import from_record, to_record

    record = to_record(LIVE.replace(speakers=("sp",), pinned="sp"))
    del record["pinned_source"]
    assert from_record(record).pinned_source is VideoSource.CAMERA
    screen = LIVE.replace(cohosts=("co",), pinned="co", pinned_source=VideoSource.SCREEN_SHARE)
    assert from_record(to_record(screen)) == screen


def test_the_hands_message_names_the_hands_and_no_one_else() -> None:
    named = {"host": "Hana", "s1": "Sam", "l1": "Lee", "l3": "Left"}
    space = LIVE.replace(speakers=("s1",), raised_hands=("l1", "l2"), names=named)
    message = pushed.raised_hands(space, read_at_ms=5)
    assert message.hands == ("l1", "l2")
    assert message.names == {"l1": "Lee"}  # l2 raised a hand before names existed: shown as the id
    assert json.loads(message.to_json())["names"] == {"l1": "Lee"}


def test_a_caller_is_named_once() -> None:
    alice = people.Caller("alice", "Alice")
    named = people.named(LIVE, alice)
    assert named.names == {"alice": "Alice"} and people.named(named, alice) is named
    assert people.named(named, people.Caller("alice", "Alice B.")).names == {"alice": "Alice B."}
