"""The contract's JSON Schemas are the one definition; every side is checked against them here.

Fails when the Python types, the generated TypeScript or what the producers emit drift from the
schema: a field added to one side only, a type changed, a generated file edited by hand.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from contract import codegen
from contract.broadcast import BroadcastTimeline, TimelineEntry
from contract.hands import RaisedHands
from contract.names import REACTION_EMOJI
from contract.reactions import ReactionBurst, ReactionFeed, parse_reaction_burst, parse_reaction_feed
from contract.room_metadata import (
    SPACE_STATES,
    VIDEO_POLICIES,
    WIRE,
    RoomMetadata,
    parse_room_metadata,
    recent_timeline,
)
from contract.schema import SCHEMAS, load
from contract.stage import VIDEO_SOURCES, Speaking, StageState, parse_stage
from functions.domain import grants, pushed
from functions.domain.model import Space, SpaceState, VideoPolicy, VideoSource
from media_agent import stage as agent_stage

pytestmark = pytest.mark.unit

# Each schema (and each of its $defs) against the Python dataclass that is its Python side.
PYTHON_SIDES: list[tuple[str, str | None, type]] = [
    ("stage", None, StageState),
    ("stage", "Speaking", Speaking),
    ("room_metadata", None, RoomMetadata),
    ("hands", None, RaisedHands),
    ("broadcast", None, BroadcastTimeline),
    ("broadcast", "TimelineEntry", TimelineEntry),
    ("reactions", None, ReactionBurst),
    ("reactions", "ReactionFeed", ReactionFeed),
]


# Fields a writer leaves out when it has none: the schema does not require them.
LEFT_OUT_WHEN_EMPTY: dict[tuple[str, str | None], set[str]] = {("room_metadata", None): {"timeline_recent"}}


def _registry() -> Registry:
    """Every contract schema under its $id, so a $ref into another schema's $defs resolves."""
    return Registry().with_resources(
        [(load(name)["$id"], Resource.from_contents(load(name))) for name in SCHEMAS]
    )


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def _json_types(annotation: Any) -> set[str]:
    """The JSON types a Python annotation can serialise to."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_json_types(a) for a in typing.get_args(annotation)))
    if annotation is type(None):
        return {"null"}
    if annotation is str or origin is typing.Literal:
        return {"string"}
    if annotation is bool:
        return {"boolean"}
    if annotation is int:
        return {"integer"}
    if annotation is float:
        return {"number"}
    if origin in (tuple, list):
        return {"array"}
    if origin is dict:
        return {"object"}
    raise AssertionError(f"no JSON type for {annotation!r}")


def _schema_types(node: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    if "$ref" in node:
        target, _, pointer = node["$ref"].partition("#/$defs/")
        if target:
            other = load(target.removesuffix(".schema.json"))["$defs"]
            return _schema_types(other[pointer], other)
        return _schema_types(defs[pointer], defs)
    if "enum" in node:
        return {"string"}
    kind = node["type"]
    return set(kind) if isinstance(kind, list) else {kind}


@pytest.mark.parametrize(("schema_name", "def_name", "cls"), PYTHON_SIDES)
def test_python_types_have_exactly_the_schema_fields(
    schema_name: str, def_name: str | None, cls: type
) -> None:
    schema = load(schema_name)
    defs = schema.get("$defs", {})
    node = defs[def_name] if def_name else schema
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls) if f.metadata.get(WIRE, True)]
    assert fields == list(node["properties"]), "field names or order differ from the schema"
    assert set(node["required"]) == set(fields) - LEFT_OUT_WHEN_EMPTY.get((schema_name, def_name), set())
    for name in fields:
        assert _json_types(hints[name]) == _schema_types(node["properties"][name], defs), name


def test_video_policy_enum_matches_schema_and_domain() -> None:
    enum = load("room_metadata")["$defs"]["VideoPolicy"]["enum"]
    assert list(VIDEO_POLICIES) == enum
    assert sorted(p.value for p in VideoPolicy) == sorted(enum)


def test_space_state_enum_matches_schema_and_domain() -> None:
    enum = load("room_metadata")["$defs"]["SpaceState"]["enum"]
    assert list(SPACE_STATES) == enum
    assert sorted(s.value for s in SpaceState) == sorted(enum)


def test_generated_typescript_is_current() -> None:
    assert codegen.TS_OUT.read_text(encoding="utf-8") == codegen.render_ts(), (
        "web/src/contract.gen.ts is stale or hand-edited: run python -m contract.codegen"
    )


def test_every_schema_is_rendered_to_typescript() -> None:
    text = codegen.render_ts()
    for name in SCHEMAS:
        schema = load(name)
        assert f"export interface {schema['title']} " in text
        for def_name in schema.get("$defs", {}):
            assert f" {def_name}" in text


def test_codegen_refuses_what_it_cannot_express() -> None:
    with pytest.raises(codegen.SchemaError):
        codegen.ts_type({"$ref": "other.json#/x"})
    with pytest.raises(codegen.SchemaError):
        codegen.ts_type({"type": "tuple"})
    with pytest.raises(codegen.SchemaError):
        codegen.ts_type({"$ref": "stage.schema.json#/$defs/Nothing"})
    with pytest.raises(codegen.SchemaError):
        codegen.ts_type({"$ref": "elsewhere.schema.json#/$defs/VideoSource"})


def test_video_source_is_defined_once_and_shared() -> None:
    """The big tile's source: one enum in the stage schema, referenced by the room metadata's pin."""
    enum = load("stage")["$defs"]["VideoSource"]["enum"]
    assert list(VIDEO_SOURCES) == enum
    pinned_source = load("room_metadata")["properties"]["pinned_source"]
    assert pinned_source["$ref"] == "stage.schema.json#/$defs/VideoSource"
    assert "VideoSource" not in load("room_metadata").get("$defs", {})
    assert sorted(s.value for s in VideoSource) == sorted(enum)
    assert codegen.render_ts().count("export type VideoSource =") == 1


def test_agent_output_validates_and_round_trips() -> None:
    normalized = agent_stage.normalize(
        {
            "spotlight": "alice",
            "video_spotlight": "alice",
            "speaking": [{"identity": "alice", "level": 0.61}, {"identity": "bob", "level": 1.7}],
            "video_on": ["alice"],
            "pinned": None,
        }
    )
    text = agent_stage.encode(normalized, 1_700_000_000_000, 12.34567)
    doc = json.loads(text)
    _validator("stage").validate(doc)
    parsed = parse_stage(text)
    assert parsed is not None and parsed.to_json() == text


def _space(**changes: object) -> Space:
    from datetime import UTC, datetime

    space = Space(
        id="a" * 32,
        title="Title",
        host="h",
        state=SpaceState.LIVE,
        video=VideoPolicy.SPEAKERS,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        pinned="h",
        cohosts=("c",),
        speakers=("s1", "s2"),
        raised_hands=("l1", "l2"),
        blocked=("b",),
        version=7,
        listener_count=1234,
    )
    return space.replace(**changes)


def test_control_plane_room_metadata_validates_and_round_trips() -> None:
    text = grants.room_metadata(_space(), host_grace=120.0)
    _validator("room_metadata").validate(json.loads(text))
    assert parse_room_metadata(text) == RoomMetadata(
        space_id="a" * 32,
        video="speakers",
        pinned="h",
        pinned_source="camera",
        title="Title",
        state="live",
        host="h",
        cohosts=("c",),
        speakers=("s1", "s2"),
        listener_count=1200,
        version=7,
    )
    assert parse_room_metadata(text).to_json() == text


def test_room_metadata_is_public() -> None:
    """Everyone in the room and every HLS viewer (state.json) reads it: no hands, no blocked ids."""
    doc = json.loads(grants.room_metadata(_space(), host_grace=120.0))
    assert "l1" not in json.dumps(doc) and "b" not in doc.get("blocked", [])
    # Every field but the composer's own (state.json's recent stage changes).
    assert set(doc) == set(load("room_metadata")["properties"]) - {"timeline_recent"}


def test_state_json_carries_the_recent_stage_changes_and_validates() -> None:
    entries = [
        TimelineEntry(t=float(t), spotlight=who, video_spotlight=who, pinned=None, names={who: who.title()})
        for t, who in [(100, "a"), (150, "b"), (170, "c"), (175, "a"), (178, "b")]
    ]
    recent = recent_timeline(entries, now=190.0)
    # The change in force 30 s back (b at 150) and those since, without names.
    expected = [(150.0, "b"), (170.0, "c"), (175.0, "a"), (178.0, "b")]
    assert [(e.t, e.spotlight) for e in recent] == expected
    assert all(e.names == {} for e in recent)
    many = [
        TimelineEntry(t=float(t), spotlight="a", video_spotlight=None, pinned=None) for t in range(100, 120)
    ]
    assert [e.t for e in recent_timeline(many, now=121.0)] == [float(t) for t in range(112, 120)]
    assert recent_timeline([], now=1.0) == ()

    state = RoomMetadata(space_id="x", host="a", timeline_recent=recent)
    doc = json.loads(state.to_json())
    _validator("room_metadata").validate(doc)
    assert parse_room_metadata(state.to_json()) == state
    # Read leniently: an entry without a time is dropped, an identity that is not text is null.
    doc["timeline_recent"] = [{"spotlight": "a"}, {"t": 5, "spotlight": 7}, "x", *doc["timeline_recent"]]
    read = parse_room_metadata(json.dumps(doc)).timeline_recent
    assert [(e.t, e.spotlight) for e in read] == [(5.0, None), *[(e.t, e.spotlight) for e in recent]]


def test_hands_message_validates_and_goes_to_moderators_only() -> None:
    space = _space()
    message = pushed.raised_hands(space, read_at_ms=1_796_166_263_000)
    _validator("hands").validate(json.loads(message.to_json()))
    assert message == RaisedHands(space_id="a" * 32, version=1_796_166_263_000, hands=("l1", "l2"))
    assert pushed.moderators(space) == ("h", "c")


def test_old_metadata_without_the_pushed_fields_still_reads() -> None:
    old = '{"space_id":"x","video":"host","pinned":null,"title":"T"}'
    assert parse_room_metadata(old) == RoomMetadata(space_id="x", video="host", title="T")
    assert parse_room_metadata('{"pinned":"h"}').pinned_source == "camera"


def test_a_pinned_screen_share_reaches_the_metadata() -> None:
    text = grants.room_metadata(_space(pinned="c", pinned_source=VideoSource.SCREEN_SHARE), host_grace=120.0)
    _validator("room_metadata").validate(json.loads(text))
    meta = parse_room_metadata(text)
    assert (meta.pinned, meta.pinned_source) == ("c", "screen_share")
    assert parse_room_metadata('{"pinned":"c","pinned_source":"window"}').pinned_source == "camera"


def test_an_old_stage_without_video_source_reads_as_camera() -> None:
    state = parse_stage('{"seq": 1, "video_spotlight": "a"}')
    assert state is not None and state.video_source == "camera"
    state = parse_stage('{"seq": 1, "video_spotlight": "a", "video_source": "screen_share"}')
    assert state is not None and state.video_source == "screen_share"


def test_timeline_validates() -> None:
    timeline = BroadcastTimeline(
        space_id="s",
        started_at=1.5,
        ended=True,
        entries=(
            TimelineEntry(t=2.0, spotlight="a", video_spotlight=None, pinned=None, names={"a": "Alice"}),
        ),
    )
    _validator("broadcast").validate(timeline.to_dict())


def test_reaction_burst_validates_and_round_trips() -> None:
    burst = ReactionBurst(
        space_id="s", first_window=10, last_window=11, window_seconds=0.5, counts={"👏": 3, "❤️": 1}
    )
    _validator("reactions").validate(json.loads(burst.to_json()))
    assert parse_reaction_burst(burst.to_json()) == burst
    assert parse_reaction_burst(burst.to_json().encode()) == burst


@pytest.mark.parametrize(
    "change",
    [
        {"window_seconds": "NaN"},  # json.loads reads the bare tokens NaN and Infinity as floats
        {"window_seconds": "Infinity"},
        {"window_seconds": 0},
        {"window_seconds": -1},
        {"window_seconds": True},
        {"first_window": "1e999"},  # an integer that overflows any float
        {"first_window": 1.5},
        {"first_window": 12},  # after last_window
        {"first_window": -1},
        {"last_window": "Infinity"},
        {"counts": {"👏": "Infinity"}},
        {"counts": {"👏": 2.5}},
        {"counts": {"👏": True}},
        {"counts": {"👏": -1}},
        {"counts": ["👏"]},
    ],
)
def test_a_burst_with_numbers_no_window_can_have_is_refused(change: dict[str, Any]) -> None:
    doc = {"space_id": "s", "first_window": 10, "last_window": 11, "window_seconds": 0.5, "counts": {"👏": 3}}
    text = json.dumps({**doc, **change})
    for token in ("NaN", "Infinity", "1e999"):  # bare JSON-ish tokens, as a sender could write them
        text = text.replace(f'"{token}"', token)
    assert parse_reaction_burst(text) is None
    assert parse_reaction_burst(json.dumps(doc)) is not None


def test_a_burst_with_whole_numbers_written_as_floats_is_read_as_json_schema_reads_it() -> None:
    doc = {
        "space_id": "s",
        "first_window": 10.0,
        "last_window": 11,
        "window_seconds": 1,
        "counts": {"👏": 3.0},
    }
    _validator("reactions").validate(doc)
    assert parse_reaction_burst(json.dumps(doc)) == ReactionBurst(
        space_id="s", first_window=10, last_window=11, window_seconds=1.0, counts={"👏": 3}
    )


def test_the_feed_is_strict_json() -> None:
    burst = ReactionBurst(space_id="s", first_window=1, last_window=1, window_seconds=float("nan"))
    with pytest.raises(ValueError, match="JSON compliant"):
        ReactionFeed(space_id="s", bursts=(burst,)).to_json()


def test_reaction_feed_validates_round_trips_and_drops_what_is_not_a_burst() -> None:
    burst = ReactionBurst(space_id="s", first_window=10, last_window=10, window_seconds=0.5, counts={"🔥": 2})
    feed = ReactionFeed(space_id="s", bursts=(burst, burst))
    feed_validator = jsonschema.Draft202012Validator(
        {"$ref": load("reactions")["$id"] + "#/$defs/ReactionFeed"}, registry=_registry()
    )
    feed_validator.validate(json.loads(feed.to_json()))
    assert parse_reaction_feed(feed.to_json()) == feed
    broken = {"space_id": "s", "bursts": [burst.to_dict(), {"counts": 3}]}
    with pytest.raises(jsonschema.ValidationError):
        feed_validator.validate(broken)
    assert parse_reaction_feed(json.dumps(broken)) == ReactionFeed(space_id="s", bursts=(burst,))
    assert parse_reaction_feed("[]") is None


def test_reaction_emoji_reach_typescript() -> None:
    assert "export const REACTION_EMOJI = " + json.dumps(list(REACTION_EMOJI), ensure_ascii=False) in (
        codegen.render_ts()
    )


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "{",
        "[]",
        '{"space_id": "s"}',
        '{"space_id": "s", "first_window": 1, "last_window": 1, "window_seconds": 0.5, "counts": []}',
    ],
)
def test_malformed_reaction_burst_is_none(bad: str) -> None:
    assert parse_reaction_burst(bad) is None


def test_reaction_burst_drops_unknown_emoji() -> None:
    text = '{"space_id": "s", "first_window": 1, "last_window": 1, "window_seconds": 0.5,'
    burst = parse_reaction_burst(text + ' "counts": {"👏": 2, "🍕": 5, "🔥": 0}}')
    assert burst is not None and burst.counts == {"👏": 2}


@pytest.mark.parametrize(
    "bad",
    [None, "", "{", "null", "[]", '{"seq": "1"}', '{"seq": true}', '{"seq": -1}', '{"spotlight": "a"}'],
)
def test_malformed_stage_is_no_stage(bad: str | None) -> None:
    assert parse_stage(bad) is None


def test_malformed_fields_fall_back_to_defaults() -> None:
    state = parse_stage(
        json.dumps(
            {
                "seq": 3,
                "spotlight": 5,
                "speaking": [{"level": 2}, {"identity": "a", "level": 9}],
                "video_on": ["a", 1, ""],
                "t": "x",
            }
        )
    )
    assert state == StageState(seq=3, speaking=(Speaking("a", 1.0),), video_on=("a",))
    assert parse_room_metadata('{"video": "all", "pinned": ""}') == RoomMetadata()
    assert parse_room_metadata(
        '{"state": "paused", "cohosts": ["a", 3, ""], "speakers": "s", "listener_count": -1, "version": true}'
    ) == RoomMetadata(cohosts=("a",))
