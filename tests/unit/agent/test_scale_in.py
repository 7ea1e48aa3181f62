"""ECS scale-in protection rule: on with rooms, off without, renewed before it lapses."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

from media_agent.scale_in import ProtectionPolicy, request_body, run
from tests.support.eventually import eventually_async


def test_protection_follows_the_room_count() -> None:
    policy = ProtectionPolicy(expires_min=60, renew_before_s=600)
    assert policy.decide(0, 0.0) is False  # state unknown at start: say so explicitly
    policy.applied(False, 0.0)
    assert policy.decide(0, 5.0) is None
    assert policy.decide(2, 10.0) is True
    policy.applied(True, 10.0)
    assert policy.decide(3, 20.0) is None
    assert policy.decide(0, 30.0) is False


def test_protection_is_renewed_before_it_expires() -> None:
    policy = ProtectionPolicy(expires_min=60, renew_before_s=600)
    policy.applied(True, 0.0)
    assert policy.decide(1, 3600 - 601) is None
    assert policy.decide(1, 3600 - 600) is True


def test_a_failed_request_is_retried() -> None:
    policy = ProtectionPolicy()
    assert policy.decide(1, 0.0) is True  # not applied (request failed) ...
    assert policy.decide(1, 5.0) is True  # ... so it is asked again


def test_request_bodies_match_the_ecs_agent_api() -> None:
    assert request_body(True, 60) == {"ProtectionEnabled": True, "ExpiresInMinutes": 60}
    assert request_body(False) == {"ProtectionEnabled": False}


def _request_body(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(v)
        for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
        if k.lower() == b"content-length"
    )
    while len(body) < length:
        body += conn.recv(65536)
    return body


async def test_a_malformed_answer_from_the_ecs_agent_does_not_end_the_loop() -> None:
    """One reply that is not HTTP (an http.client error, not an OSError) is logged and retried."""
    bodies: list[bytes] = []

    def serve(listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                bodies.append(_request_body(conn))
                if len(bodies) == 1:
                    conn.sendall(b"garbage\r\n\r\n")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=serve, args=(listener,), daemon=True).start()
    rooms = [1]
    uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
    task = asyncio.create_task(run(lambda: rooms[0], uri, poll_s=0.01))
    try:
        await eventually_async(lambda: len(bodies) >= 2, timeout=10, what="the request asked again")
        rooms[0] = 0
        await eventually_async(
            lambda: json.loads(bodies[-1]) == {"ProtectionEnabled": False}, timeout=10, what="protection off"
        )
        assert not task.done()
    finally:
        task.cancel()
        listener.close()
