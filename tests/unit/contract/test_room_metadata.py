"""RoomMetadata.may_speak: who the media workers hear."""

from __future__ import annotations

import json
from dataclasses import replace

from contract.room_metadata import RoomMetadata, parse_room_metadata


def test_the_stage_is_the_host_the_cohosts_and_the_speakers() -> None:
    metadata = RoomMetadata(host="h", cohosts=("c",), speakers=("s",))
    heard = [metadata.may_speak(i) for i in ("h", "c", "s", "listener", "")]
    assert heard == [True, True, True, False, False]


def test_a_document_without_a_host_was_not_written_by_the_control_plane_and_limits_nobody() -> None:
    assert parse_room_metadata("").may_speak("anyone")
    assert parse_room_metadata('{"speakers": ["s"]}').may_speak("someone-else")
    assert not parse_room_metadata('{"host": "h", "speakers": ["s"]}').may_speak("someone-else")


def test_seated_is_the_stage_in_the_order_its_members_took_their_seats() -> None:
    metadata = parse_room_metadata('{"host": "h", "cohosts": ["c2", "c1"], "speakers": ["s9", "s1"]}')
    assert metadata.seated == ("h", "c2", "c1", "s9", "s1")
    assert parse_room_metadata('{"speakers": ["s"]}').seated == ("s",)  # no host: none listed


def test_only_an_explicit_false_says_a_space_is_not_recorded() -> None:
    """Documents from before the choice existed (and anything malformed) read as recorded, as
    every Space then was; the composer tags for deletion only what the control plane said."""
    assert parse_room_metadata('{"record": false}').record is False
    assert parse_room_metadata('{"record": true}').record is True
    for raw in ("", "{}", '{"record": null}', '{"record": "false"}', '{"record": 0}', "[]"):
        assert parse_room_metadata(raw).record is True, raw
    assert parse_room_metadata(RoomMetadata(record=False).to_json()).record is False


def test_fields_this_version_does_not_know_are_written_back_as_they_came() -> None:
    """The composer relays the control plane's document to state.json: one older than the control
    plane (a composer keeps its Spaces through a deploy) keeps what it does not read, for the newer
    pages that do. What it knows it writes as it reads it; what it adds (the timeline) it adds."""
    raw = {"space_id": "s", "host": "h", "speakers": ["a"], "seats_left": {"speakers": 3}, "poll": None}
    relayed = replace(parse_room_metadata(json.dumps(raw)), timeline_recent=())
    doc = json.loads(relayed.to_json())
    assert doc["seats_left"] == {"speakers": 3} and "poll" in doc and doc["poll"] is None
    assert doc["speakers"] == ["a"] and doc["host"] == "h"
    # Not part of the document: neither written as a field nor compared.
    assert "extra" not in doc
    assert relayed == parse_room_metadata(json.dumps({"space_id": "s", "host": "h", "speakers": ["a"]}))
    # A field this version knows is its own, whatever an unknown one is called.
    assert json.loads(RoomMetadata(host="x", extra={"host": "y"}).to_json())["host"] == "x"
