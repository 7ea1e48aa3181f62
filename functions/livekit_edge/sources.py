"""Track sources as the domain names them (domain/grants.py), from the SDK's enum numbers."""

from __future__ import annotations

from ..domain.grants import CAMERA, MICROPHONE

# A number the SDK does not know (a newer server's source): named, not raised on, since a signed
# webhook or a room read must not fail on it (a 500 to the SFU, a failed pass).
UNKNOWN = "unknown"


def source_name(source: int) -> str:
    from livekit import api

    known: dict[int, str] = {api.TrackSource.MICROPHONE: MICROPHONE, api.TrackSource.CAMERA: CAMERA}
    if source in known:
        return known[source]
    try:
        return api.TrackSource.Name(source).lower()
    except ValueError:
        return UNKNOWN
