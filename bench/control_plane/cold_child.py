"""One Lambda cold start: run in a fresh interpreter by cold_start.py. Prints one JSON line.

Measures what a Lambda init + first invoke does: import the handler module, then serve the first
token request (settings, store connection, token signing all happen lazily on that request).
"""

from __future__ import annotations

import sys
import time

T0, C0 = time.perf_counter(), time.process_time()

from functions.handler import handler  # noqa: E402 - the import is what is measured

T_IMPORT, C_IMPORT = time.perf_counter(), time.process_time()

from bench.control_plane.fixture import serve_first_request  # noqa: E402

HEAVY = ("boto3", "botocore", "livekit.api", "livekit.protocol", "aiohttp", "google.protobuf")

if __name__ == "__main__":
    serve_first_request(handler, sys.argv[1], started=(T0, C0), imported=(T_IMPORT, C_IMPORT), heavy=HEAVY)
