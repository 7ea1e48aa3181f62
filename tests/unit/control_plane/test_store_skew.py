"""Records written by a newer release (read by this one during a deploy, or after a rollback): an
enum value this release does not know is read as its restrictive default, not refused, so one such
record neither breaks the lobby nor stops the reconciler's sweep for every Space."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from functions.core.config import Settings
from functions.domain.model import Space, VideoPolicy, VideoSource
from functions.store.base import from_record, to_record

from .conftest import auth
from .fakes import FakeGateway
from .test_api import live_space, sweep


def make_space_record() -> dict[str, object]:
    return to_record(
        Space(
            id="ab" * 16,
            title="t",
            host="host",
            video=VideoPolicy.SPEAKERS,
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
        )
    )


def _rewrite(settings: Settings, space_id: str, **fields: object) -> None:
    db = sqlite3.connect(settings.sqlite_path)
    try:
        (raw,) = db.execute("SELECT record FROM spaces WHERE id = ?", (space_id,)).fetchone()
        db.execute(
            "UPDATE spaces SET record = ? WHERE id = ?", (json.dumps({**json.loads(raw), **fields}), space_id)
        )
        db.commit()
    finally:
        db.close()


def test_an_unknown_video_policy_or_pin_source_reads_as_the_restrictive_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    record = {**make_space_record(), "video": "everyone", "pinned": "host", "pinned_source": "window"}
    with caplog.at_level(logging.WARNING, logger="functions.store.base"):
        space = from_record(record)
    assert space.video is VideoPolicy.OFF and space.pinned_source is VideoSource.CAMERA
    assert "'everyone'" in caplog.text and "'window'" in caplog.text
    # Known values and absent ones read as before.
    assert (
        from_record({**record, "video": "speakers", "pinned_source": "screen_share"}).video
        is VideoPolicy.SPEAKERS
    )
    plain = {k: v for k, v in record.items() if k not in ("video", "pinned_source")}
    assert from_record(plain).video is VideoPolicy.OFF
    assert from_record(to_record(from_record(plain))) == from_record(plain)


def test_one_such_record_leaves_the_lobby_the_space_and_the_sweep_working(
    client: TestClient, settings: Settings, app: FastAPI, gateway: FakeGateway
) -> None:
    ids = [live_space(client) for _ in range(3)]
    _rewrite(settings, ids[0], pinned_source="window")
    _rewrite(settings, ids[1], video="everyone")
    listed = client.get("/spaces?state=live", headers=auth("someone"))
    assert listed.status_code == 200 and {s["id"] for s in listed.json()["items"]} == set(ids)
    odd = client.get(f"/spaces/{ids[0]}", headers=auth("someone"))
    assert odd.status_code == 200 and odd.json()["pinned_source"] == "camera"
    assert client.post(f"/spaces/{ids[1]}/token", headers=auth("lee")).status_code == 200
    assert client.get(f"/spaces/{ids[1]}", headers=auth("someone")).json()["video"] == "off"
    sweep(app, gateway)  # raised ValueError for every Space before
    assert all(f"space-{i}" in gateway.rooms for i in ids)


def test_a_write_by_this_release_keeps_a_video_policy_it_could_not_read(
    client: TestClient, settings: Settings
) -> None:
    """No rule changes an existing Space's video policy, so the newer release's value is written
    back as it was: a rollback followed by a roll forward finds it again."""
    space_id = live_space(client)
    _rewrite(settings, space_id, video="everyone")
    assert client.post(f"/spaces/{space_id}/hand", headers=auth("lee")).status_code < 300
    resp = client.put(f"/spaces/{space_id}/roles/lee", json={"role": "speaker"}, headers=auth("host"))
    assert resp.status_code == 200, resp.text
    db = sqlite3.connect(settings.sqlite_path)
    try:
        (raw,) = db.execute("SELECT record FROM spaces WHERE id = ?", (space_id,)).fetchone()
    finally:
        db.close()
    stored = json.loads(raw)
    assert stored["speakers"] == ["lee"] and stored["video"] == "everyone"
