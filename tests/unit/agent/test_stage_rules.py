"""The stage rules: seq across restarts, level range, publish pacing, pin and stage parsing."""

from __future__ import annotations

import json

from contract.stage import StageState
from media_agent import stage as rules


def test_seq_is_strictly_increasing_even_within_one_millisecond() -> None:
    clock = rules.SeqClock(wall_clock=lambda: 1000.0)
    assert [clock.next() for _ in range(3)] == [1_000_000, 1_000_001, 1_000_002]


def test_a_new_agent_continues_above_its_predecessor_without_knowing_it() -> None:
    old = rules.SeqClock(wall_clock=lambda: 1000.0)
    last_of_old = max(old.next() for _ in range(50))
    new = rules.SeqClock(wall_clock=lambda: 1001.0)  # started a second later
    assert new.next() > last_of_old


def test_an_observed_seq_lifts_the_floor_over_a_clock_that_is_behind() -> None:
    clock = rules.SeqClock(wall_clock=lambda: 10.0)
    clock.observe(5_000_000)
    assert clock.next() == 5_000_001


def test_levels_are_clamped_to_the_contract_range() -> None:
    assert [s["level"] for s in stage(levels={"a": 1.7, "b": -0.2})["speaking"]] == [1.0, 0.0]


def stage(spotlight: str | None = "a", levels: dict[str, float] | None = None, **extra: object) -> dict:
    base = {
        "spotlight": spotlight,
        "video_spotlight": None,
        "speaking": [{"identity": k, "level": v} for k, v in (levels or {}).items()],
        "video_on": [],
        "pinned": None,
    }
    return rules.normalize({**base, **extra})


def test_structural_changes_are_due_at_once_level_changes_are_paced() -> None:
    gate = rules.PublishGate(level_interval=0.5)
    first = stage(levels={"a": 0.5})
    assert gate.due(first, 0.0)
    gate.mark(first, 0.0)

    assert not gate.due(stage(levels={"a": 0.5}), 0.1)  # nothing changed
    louder = stage(levels={"a": 0.8})
    assert not gate.due(louder, 0.1) and gate.differs(louder)  # level only: held back...
    assert gate.next_due(0.1) == 0.5
    assert gate.due(louder, 0.5)  # ...until the interval is up
    assert gate.due(stage(spotlight="b", levels={"a": 0.5}), 0.1)  # new spotlight: at once
    assert gate.due(stage(levels={"a": 0.5, "b": 0.2}), 0.1)  # someone starts talking: at once


def test_pin_is_read_from_room_metadata_and_garbage_is_no_pin() -> None:
    assert rules.parse_pin(json.dumps({"space_id": "s", "pinned": "alice"})) == "alice"
    assert rules.parse_pin(json.dumps({"pinned": None})) is None
    for bad in ["", "not json", "[1, 2]", json.dumps({"pinned": 42}), json.dumps({"pinned": ""})]:
        assert rules.parse_pin(bad) is None


def test_pinned_source_is_read_from_room_metadata_and_defaults_to_the_camera() -> None:
    screen = json.dumps({"pinned": "alice", "pinned_source": "screen_share"})
    assert rules.parse_pinned_source(screen) == "screen_share"
    for old in ["", "not json", json.dumps({"pinned": "alice"}), json.dumps({"pinned_source": 3})]:
        assert rules.parse_pinned_source(old) == "camera"


def test_a_switch_between_camera_and_screen_is_published_at_once() -> None:
    gate = rules.PublishGate()
    camera = stage(video_spotlight="alice", video_on=["alice"])
    gate.mark(camera, 0.0)
    screen = stage(video_spotlight="alice", video_on=["alice"], video_source="screen_share")
    assert gate.due(screen, 0.01)
    assert json.loads(rules.encode(screen, 1, 0.0))["video_source"] == "screen_share"


def test_only_stages_with_an_integer_seq_are_trusted() -> None:
    assert rules.parse_stage(json.dumps({"seq": 7, "spotlight": "a"})) == StageState(seq=7, spotlight="a")
    for bad in [None, "", "{", json.dumps({"seq": "7"}), json.dumps([1])]:
        assert rules.parse_stage(bad) is None


def test_encoded_stage_has_exactly_the_contract_keys() -> None:
    doc = json.loads(rules.encode(stage(levels={"a": 0.4}), 12, 1700000000.12345))
    assert list(doc) == [
        "seq",
        "spotlight",
        "video_spotlight",
        "video_source",
        "speaking",
        "video_on",
        "pinned",
        "t",
    ]
    assert doc["seq"] == 12 and doc["t"] == 1700000000.123


def test_carried_spotlight_fills_in_until_the_engine_decides() -> None:
    carried = rules.Carried(spotlight="bob", video_spotlight="bob")
    empty = stage(spotlight=None, video_on=["bob"])
    filled = rules.apply_carried(empty, carried, present={"bob"})
    assert filled["spotlight"] == "bob" and filled["video_spotlight"] == "bob"
    assert rules.apply_carried(empty, carried, present=set())["spotlight"] is None  # bob left
    own = stage(spotlight="carol")
    assert rules.apply_carried(own, carried, present={"bob"}) == own
    pinned = stage(spotlight="alice", pinned="alice")
    assert rules.apply_carried(pinned, carried, present={"bob"}) == pinned
