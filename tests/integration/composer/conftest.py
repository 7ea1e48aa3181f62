"""The composer's live tests run against their own livekit-server, with congestion control off.

What they test is which simulcast layer the composer asks for, and when (the shown camera at its
top layer, the others warm at their lowest, a renewal). With congestion control on, livekit-server
also caps each layer at its bandwidth estimate of the composer's downlink; on a loaded 2-core runner
that estimate judges loopback congested and holds a camera at its lowest layer for tens of seconds
(CI saw it, and a run beside other suites held one for 45 s), so the tests would measure the
runner's load. Everything else is the configuration `make dev` and the other tests run (contract.
livekit_config.local_config); the fleet keeps congestion control on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract import names
from devstack import livekit
from tests.conftest import LiveKitEndpoint


@pytest.fixture(scope="session")
def steady_livekit() -> Iterator[LiveKitEndpoint]:
    server = livekit.start_local(
        api_key=names.DEV_API_KEY,
        api_secret=names.DEV_API_SECRET,
        name="livekit-steady",
        congestion_control=False,
    )
    try:
        yield LiveKitEndpoint.of(server, None)
    finally:
        server.stop()
