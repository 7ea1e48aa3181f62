"""timeline.json as the composer writes it: schema-valid entries, clear errors, readable back."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from composer.hls.timeline import append_entry, parse_timeline, timeline_entry, timeline_json
from contract.broadcast import BroadcastTimeline
from contract.schema import load

T0 = 1_764_619_200.0


def _entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "t": T0 + 3,
        "spotlight": "alice",
        "video_spotlight": "bob",
        "pinned": None,
        "names": {"alice": "Alice", "bob": "Bob"},
    }
    base.update(over)
    return base


def test_a_timeline_with_entries_follows_the_contract_schema_and_reads_back() -> None:
    timeline = BroadcastTimeline(space_id="sp", started_at=T0)
    timeline = append_entry(timeline, timeline_entry(_entry(), default_t=0))
    timeline = append_entry(timeline, timeline_entry(_entry(t=T0 + 9, pinned="bob"), default_t=0))
    text = timeline_json(timeline)
    jsonschema.Draft202012Validator(load("broadcast")).validate(json.loads(text))
    assert parse_timeline(text) == timeline


def test_t_defaults_to_now_and_absent_identities_are_null() -> None:
    entry = timeline_entry({"spotlight": "alice"}, default_t=T0 + 1)
    assert (entry.t, entry.spotlight, entry.video_spotlight, entry.pinned, entry.names) == (
        T0 + 1,
        "alice",
        None,
        None,
        {},
    )


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (_entry(t="now"), "'t'"),
        (_entry(t=True), "'t'"),
        (_entry(t=float("nan")), "'t'"),
        (_entry(spotlight=7), "'spotlight'"),
        (_entry(video_spotlight=["a"]), "'video_spotlight'"),
        (_entry(names={"alice": 1}), "'names'"),
        (_entry(names=["alice"]), "'names'"),
        (_entry(speaking=[]), "unknown fields"),
    ],
)
def test_a_malformed_entry_is_refused_naming_the_field(entry: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        timeline_entry(entry, default_t=T0)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        '{"space_id": "sp", "started_at": "x", "ended": false, "entries": []}',
        '{"space_id": "sp", "started_at": 1, "ended": "no", "entries": []}',
        '{"space_id": "sp", "started_at": 1, "ended": false, "entries": [{"spotlight": null}]}',
    ],
)
def test_a_stored_timeline_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timeline(text)
