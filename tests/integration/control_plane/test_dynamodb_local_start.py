"""The test store's server starts even when the port it picked is taken before it binds it (another
test session on the machine took it: the server exits at once)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from devstack.ports import free_port
from tests.support import dynamodb_local


def test_a_port_taken_before_the_server_binds_it_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - DynamoDB Local binds every interface, so must this
        taken.listen()
        ports = iter([taken.getsockname()[1]])
        monkeypatch.setattr(dynamodb_local, "free_port", lambda: next(ports, None) or free_port())
        with dynamodb_local.dynamodb_server() as endpoint:
            assert not endpoint.url.endswith(f":{taken.getsockname()[1]}")
            try:
                urllib.request.urlopen(endpoint.url, timeout=5)  # noqa: S310 - our own loopback server
            except urllib.error.HTTPError as answer:  # GET / is a 400 from DynamoDB: it is up
                assert answer.code == 400
