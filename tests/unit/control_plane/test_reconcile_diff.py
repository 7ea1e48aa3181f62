"""The reconciler's pure diff: desired Space + observed room -> actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from contract import names
from functions.domain.grants import permission_for, room_metadata
from functions.domain.model import Role, Space, SpaceState, VideoPolicy
from functions.livekit_edge.gateway import (
    ObservedDispatch,
    ObservedMember,
    ObservedParticipant,
    ObservedRoom,
    StrandedRoom,
)
from functions.reconcile import diff as d


def wanted_metadata(space: Space) -> str:
    """The room metadata the diff wants with its default timing (the grace period is in it)."""
    return room_metadata(space, host_grace=d.Timing().host_grace)


def audience_diff(space: Space, member: ObservedMember) -> list[d.Action]:
    return d.audience_diff(space, member, timing=d.Timing())


STARTED = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
NOW = STARTED.timestamp() + 600
AGENTS = (names.AGENT_NAME, names.COMPOSER_AGENT_NAME)


def live(**changes: object) -> Space:
    space = Space(
        id="s1",
        title="t",
        host="host",
        video=VideoPolicy.SPEAKERS,
        created_at=STARTED,
        state=SpaceState.LIVE,
        started_at=STARTED,
        version=3,
    )
    return space.replace(**changes)


def person(
    identity: str, role: Role, *, granted: Role | None = None, sid: str | None = None, version: int = 1
) -> ObservedParticipant:
    """Connected with the role attribute `role` and the permission of `granted` (default: `role`);
    `version`: the SFU's version of their state."""
    return ObservedParticipant(
        identity=identity,
        sid=sid or f"PA_{identity}",
        is_agent=False,
        agent_name=None,
        role=role.value,
        permission=permission_for(granted or role, VideoPolicy.SPEAKERS),
        version=version,
    )


def agent(name: str) -> ObservedParticipant:
    return ObservedParticipant(
        identity=f"agent-{name}", sid=f"AG_{name}", is_agent=True, agent_name=name, role=None, permission=None
    )


def room(
    space: Space,
    *people: ObservedParticipant,
    metadata: str | None = None,
    dispatches=(),  # type: ignore[no-untyped-def]
    host_present: bool = True,
) -> ObservedRoom:
    """The room with its agents and `people`; the host is connected too unless `host_present` is
    False (or `people` already holds them)."""
    if host_present and all(p.identity != space.host for p in people):
        people = (person(space.host, Role.HOST), *people)
    return ObservedRoom(
        metadata=wanted_metadata(space) if metadata is None else metadata,
        participants=(agent(names.AGENT_NAME), agent(names.COMPOSER_AGENT_NAME), *people),
        dispatches=tuple(dispatches),
    )


def test_a_room_that_matches_needs_nothing() -> None:
    space = live(speakers=("sp",))
    observed = room(space, person("host", Role.HOST), person("sp", Role.SPEAKER), person("l", Role.LISTENER))
    assert d.diff(space, observed, agents=AGENTS, now=NOW) == []


def test_each_participant_gets_the_grants_of_the_stored_role() -> None:
    space = live(speakers=("promoted",))
    observed = room(space, person("promoted", Role.LISTENER), person("demoted", Role.SPEAKER))
    actions = d.diff(space, observed, agents=AGENTS, now=NOW)
    by_identity = {a.identity: a for a in actions if isinstance(a, d.UpdateParticipant)}
    assert by_identity["promoted"].role is Role.SPEAKER and by_identity["promoted"].listener_delta == -1
    assert by_identity["demoted"].role is Role.LISTENER and by_identity["demoted"].listener_delta == 1
    assert not by_identity["demoted"].permission.can_publish


def test_a_right_attribute_with_a_wrong_permission_is_corrected() -> None:
    space = live()
    observed = room(space, person("l", Role.LISTENER, granted=Role.SPEAKER))
    (action,) = d.diff(space, observed, agents=AGENTS, now=NOW)
    assert isinstance(action, d.UpdateParticipant) and action.listener_delta == 0


def test_a_demoted_speaker_who_stays_visible_matches() -> None:
    """gateway.live_hidden: a visible participant is never hidden live; that is not a difference."""
    space = live()
    visible_listener = permission_for(Role.LISTENER, space.video)
    visible_listener = type(visible_listener)(
        can_publish=False, sources=(), can_publish_data=False, hidden=False
    )
    p = ObservedParticipant("ex", "PA_ex", False, None, Role.LISTENER.value, visible_listener)
    assert d.diff(space, room(space, p), agents=AGENTS, now=NOW) == []


def test_the_count_key_names_one_transition_of_one_participant_state() -> None:
    space = live()
    stale = room(space, person("ex", Role.SPEAKER))
    first = d.diff(space, stale, agents=AGENTS, now=NOW)
    again = d.diff(space, stale, agents=AGENTS, now=NOW)
    assert first == again  # two passes seeing the same thing count it once (same key)
    rejoined = d.diff(space, room(space, person("ex", Role.SPEAKER, sid="PA_new")), agents=AGENTS, now=NOW)
    assert first[0].count_key != rejoined[0].count_key  # type: ignore[union-attr]
    # Two passes of two writes (in two processes: the cloud's Lambdas) that both saw the participant
    # before either updated them: one transition, counted once (the Space's version in the key made
    # it two, and the count drifted until the patrol's recount).
    later = d.diff(live(version=4), stale, agents=AGENTS, now=NOW)
    assert first[0].count_key == later[-1].count_key  # type: ignore[union-attr]
    # The same move again after the SFU applied others (demoted, then promoted again): a new state.
    moved_since = room(space, person("ex", Role.SPEAKER, version=3))
    again_later = d.diff(live(version=6), moved_since, agents=AGENTS, now=NOW)
    assert first[0].count_key != again_later[-1].count_key  # type: ignore[union-attr]


def test_blocked_users_are_removed_and_evicted_ones_once() -> None:
    space = live(blocked=("troll",))
    observed = room(space, person("troll", Role.LISTENER), person("kicked", Role.LISTENER))
    assert d.diff(space, observed, agents=AGENTS, now=NOW) == [d.RemoveParticipant("troll", "blocked")]
    both = d.diff(space, observed, agents=AGENTS, now=NOW, evict=frozenset({"kicked"}))
    assert d.RemoveParticipant("kicked", "removed") in both


def test_a_participant_no_token_of_the_api_names_is_removed() -> None:
    """Upstream livekit-server lets any token that may publish join again as `<identity>#<x>`
    (`publish=<x>`): a blocked speaker came back that way. Nobody the API issues a token to has such
    an identity, so it is removed whatever its grants; agents keep theirs."""
    import dataclasses

    space = live(speakers=("spk",), blocked=("spk",))
    alias = person("spk#x", Role.LISTENER)
    assert d.diff(space, room(space, alias), agents=AGENTS, now=NOW) == [
        d.RemoveParticipant("spk#x", "not_a_user")
    ]
    agent = dataclasses.replace(person("agent#1", Role.LISTENER), is_agent=True)
    assert d.RemoveParticipant("agent#1", "not_a_user") not in d.diff(
        space, room(space, agent), agents=AGENTS, now=NOW
    )


def test_someone_publishing_a_track_under_another_kinds_source_is_removed() -> None:
    import dataclasses

    space = live(speakers=("spk",))
    cheat = dataclasses.replace(person("spk", Role.SPEAKER), mislabelled_tracks=1)
    assert d.diff(space, room(space, cheat), agents=AGENTS, now=NOW) == [
        d.RemoveParticipant("spk", "mislabelled_track")
    ]
    honest = person("spk", Role.SPEAKER)
    assert d.diff(space, room(space, honest), agents=AGENTS, now=NOW) == []


def test_the_gateway_counts_tracks_whose_kind_is_not_their_sources() -> None:
    from livekit import api

    from functions.livekit_edge import gateway

    def info(*tracks: tuple[int, int]) -> object:
        p = api.ParticipantInfo(identity="spk", sid="PA_spk")
        for source, kind in tracks:
            p.tracks.append(api.TrackInfo(source=source, type=kind))
        return p

    audio, video = api.TrackType.AUDIO, api.TrackType.VIDEO
    s = api.TrackSource
    fine = info(
        (s.MICROPHONE, audio), (s.CAMERA, video), (s.SCREEN_SHARE, video), (s.SCREEN_SHARE_AUDIO, audio)
    )
    assert gateway._observed(fine).mislabelled_tracks == 0
    # A video as the microphone (a camera where video is off), audio as the camera or the screen.
    cheats = info(
        (s.MICROPHONE, video), (s.CAMERA, audio), (s.SCREEN_SHARE, audio), (s.SCREEN_SHARE_AUDIO, video)
    )
    assert gateway._observed(cheats).mislabelled_tracks == 4


def test_metadata_follows_the_stored_space() -> None:
    space = live(pinned="host")
    observed = room(space, metadata=wanted_metadata(live()))
    assert d.diff(space, observed, agents=AGENTS, now=NOW) == [d.SetMetadata(wanted_metadata(space))]


def test_a_missing_agent_is_dispatched_whatever_the_reason_unless_one_is_on_its_way() -> None:
    space = live()
    host = person("host", Role.HOST)
    no_agents = ObservedRoom(metadata=wanted_metadata(space), participants=(host,), dispatches=())
    assert d.diff(space, no_agents, agents=AGENTS, now=NOW) == [d.Dispatch(a) for a in AGENTS]
    # The start's dispatch long ago (dropped: no worker was registered, or the agent crashed).
    old = ObservedRoom(
        metadata=wanted_metadata(space),
        participants=(host, agent(names.AGENT_NAME)),
        dispatches=(ObservedDispatch(names.COMPOSER_AGENT_NAME, NOW - 600, 0),),
    )
    assert d.diff(space, old, agents=AGENTS, now=NOW) == [d.Dispatch(names.COMPOSER_AGENT_NAME)]
    fresh = ObservedRoom(
        metadata=wanted_metadata(space),
        participants=(host, agent(names.AGENT_NAME)),
        dispatches=(ObservedDispatch(names.COMPOSER_AGENT_NAME, NOW - 2, 0),),
    )
    assert d.diff(space, fresh, agents=AGENTS, now=NOW) == []
    # Broadcasting off: the composer is not one of the Space's agents.
    assert d.diff(space, no_agents, agents=(names.AGENT_NAME,), now=NOW) == [d.Dispatch(names.AGENT_NAME)]


def test_rooms_follow_the_space_state() -> None:
    scheduled = live(state=SpaceState.SCHEDULED, started_at=None)
    assert d.diff(scheduled, None, agents=AGENTS, now=NOW) == []
    ended = live(state=SpaceState.ENDED)
    assert d.diff(ended, room(ended), agents=AGENTS, now=NOW) == [d.DeleteRoom()]
    assert d.diff(ended, None, agents=AGENTS, now=NOW) == []
    just_started = live()
    # Created with the metadata the diff wants, the grace period it enforces in it.
    created = d.CreateRoom(AGENTS, room_metadata(just_started, host_grace=d.Timing().host_grace))
    assert d.diff(just_started, None, agents=AGENTS, now=STARTED.timestamp() + 5) == [created]
    late = d.Timing(host_grace=600)
    (with_grace,) = d.diff(just_started, None, agents=AGENTS, now=STARTED.timestamp() + 5, timing=late)
    assert with_grace == d.CreateRoom(AGENTS, room_metadata(just_started, host_grace=600))
    # Long live and no room: the SFU closed it (a room_finished webhook was lost): the Space ends.
    assert d.diff(just_started, None, agents=AGENTS, now=NOW) == [d.EndSpace()]


def test_a_room_no_node_holds_is_placed_again_before_anything_else_whatever_the_state() -> None:
    stranded = StrandedRoom("unavailable: no response from servers")
    # Live, even long after the start (a missing room would end the Space): placed with its agents.
    wanted = room_metadata(live(), host_grace=d.Timing().host_grace)
    assert d.diff(live(), stranded, agents=AGENTS, now=NOW) == [d.PlaceRoom(AGENTS, stranded.reason, wanted)]
    # Ended: deleting is asked of the node that holds the room, so it is placed first (asking for no
    # agents; the SFU keeps the room's stored dispatches all the same, for the moments until the delete).
    ended = live(state=SpaceState.ENDED)
    gone = room_metadata(ended, host_grace=d.Timing().host_grace)
    assert d.diff(ended, stranded, agents=AGENTS, now=NOW) == [d.PlaceRoom((), stranded.reason, gone)]
    # Scheduled: a scheduled Space has no room to care about.
    scheduled = live(state=SpaceState.SCHEDULED, started_at=None)
    assert d.diff(scheduled, stranded, agents=AGENTS, now=NOW) == []


# --- the host's presence (docs/control-plane.md, "The host") -----------------------------------

GRACE = d.Timing(host_grace=30.0)


def test_a_host_missing_from_the_room_starts_the_grace_period_when_no_webhook_did() -> None:
    space = live()
    actions = d.diff(space, room(space, host_present=False), agents=AGENTS, now=NOW, timing=GRACE)
    assert actions == [d.HostAway(since=NOW)]


def test_a_host_who_is_back_clears_the_departure_even_without_a_join_webhook() -> None:
    space = live(host_away_since=datetime.fromtimestamp(NOW - 20, UTC))
    observed = room(space, metadata=room_metadata(space, host_grace=GRACE.host_grace))
    assert d.diff(space, observed, agents=AGENTS, now=NOW, timing=GRACE) == [d.HostBack()]


def test_within_the_grace_period_the_space_stays_live() -> None:
    space = live(host_away_since=datetime.fromtimestamp(NOW - 29, UTC))
    observed = room(space, host_present=False, metadata=room_metadata(space, host_grace=GRACE.host_grace))
    assert d.diff(space, observed, agents=AGENTS, now=NOW, timing=GRACE) == []


def test_the_room_is_told_when_an_away_hosts_space_ends() -> None:
    """The room metadata carries the end of the grace period while the host is away (every page
    says so), and nothing while they are there or once the Space ended."""
    away = live(host_away_since=datetime.fromtimestamp(NOW - 29, UTC))
    told = json.loads(room_metadata(away, host_grace=GRACE.host_grace))
    assert told["host_away_until"] == (NOW - 29 + GRACE.host_grace) * 1000
    assert json.loads(room_metadata(live(), host_grace=30.0))["host_away_until"] is None
    ended = away.replace(state=SpaceState.ENDED)
    assert json.loads(room_metadata(ended, host_grace=30.0))["host_away_until"] is None
    # The diff wants it published, with the grace period it enforces.
    stale = room(away, host_present=False, metadata=room_metadata(away, host_grace=120.0))
    (publish,) = d.diff(away, stale, agents=AGENTS, now=NOW, timing=GRACE)
    assert publish == d.SetMetadata(room_metadata(away, host_grace=GRACE.host_grace))


def test_after_the_grace_period_the_space_ends_and_nothing_else_is_done_first() -> None:
    space = live(host_away_since=datetime.fromtimestamp(NOW - 30, UTC), speakers=("sp",))
    observed = room(space, person("sp", Role.LISTENER), host_present=False, metadata="stale")
    assert d.diff(space, observed, agents=AGENTS, now=NOW, timing=GRACE) == [d.EndAbandoned()]


def test_right_after_the_start_a_missing_host_is_still_connecting() -> None:
    space = live()
    just_started = STARTED.timestamp() + 29
    assert d.diff(space, room(space, host_present=False), agents=AGENTS, now=just_started, timing=GRACE) == []
    later = STARTED.timestamp() + 30
    actions = d.diff(space, room(space, host_present=False), agents=AGENTS, now=later, timing=GRACE)
    assert actions == [d.HostAway(since=later)]


def test_an_agent_named_like_the_host_does_not_count_as_the_host() -> None:
    space = live(host="agent-spaces-stage")
    actions = d.diff(space, room(space, host_present=False), agents=AGENTS, now=NOW, timing=GRACE)
    assert actions == [d.HostAway(since=NOW)]


# -- audience passes: a listener's join or leave, read without listing the room ---------------------


def test_a_listeners_join_checks_their_grants_and_the_metadata_only() -> None:
    space = live(listener_count=4)
    stale = wanted_metadata(live(listener_count=3))
    joined = person("lena", Role.LISTENER)
    assert audience_diff(space, ObservedMember(wanted_metadata(space), joined)) == []
    assert audience_diff(space, ObservedMember(stale, joined)) == [d.SetMetadata(wanted_metadata(space))]
    # Nobody else is known: no host presence, no agents, whatever the listing would have said.
    assert audience_diff(space, ObservedMember(wanted_metadata(space), None)) == []


def test_a_listener_whose_role_or_block_changed_before_they_joined_is_corrected() -> None:
    promoted = live(speakers=("lena",))
    (update,) = audience_diff(
        promoted, ObservedMember(wanted_metadata(promoted), person("lena", Role.LISTENER))
    )
    assert isinstance(update, d.UpdateParticipant) and update.role is Role.SPEAKER
    blocked = live(blocked=("lena",))
    assert audience_diff(
        blocked, ObservedMember(wanted_metadata(blocked), person("lena", Role.LISTENER))
    ) == [d.RemoveParticipant("lena", "blocked")]


def test_an_audience_pass_does_nothing_to_a_space_that_is_not_live() -> None:
    ended = live(state=SpaceState.ENDED)
    assert audience_diff(ended, ObservedMember("stale", person("lena", Role.LISTENER))) == []
