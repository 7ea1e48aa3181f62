"""The floor for cold_child.py: a one-route FastAPI app behind Mangum, nothing of ours.

Run by cold_start.py in a fresh interpreter; prints the same JSON line as cold_child.py, so the
report can show how much of the cold start is the framework and how much is the control plane.
"""

from __future__ import annotations

import sys
import time

T0, C0 = time.perf_counter(), time.process_time()

from fastapi import FastAPI  # noqa: E402
from mangum import Mangum  # noqa: E402

app = FastAPI()


@app.post("/spaces/{space_id}/token")
async def token(space_id: str) -> dict[str, str]:
    return {"space_id": space_id}


handler = Mangum(app, lifespan="off")
T_IMPORT, C_IMPORT = time.perf_counter(), time.process_time()

from bench.control_plane.fixture import serve_first_request  # noqa: E402

if __name__ == "__main__":
    serve_first_request(handler, sys.argv[1], started=(T0, C0), imported=(T_IMPORT, C_IMPORT))
