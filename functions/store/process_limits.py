"""Rate limits kept in this process's memory instead of the table, for the calls whose every request
already costs a store read and to which a limit kept in the table would add a write on every join
or heartbeat (join tokens, presence heartbeats; docs/control-plane.md, "Limits"). Each process (a
Lambda environment, the local uvicorn) counts on its own, so a caller whose requests are spread over
n environments gets up to n times the limit: this stops a client that loops, whose requests mostly
land on the few environments kept warm for it, not a crowd of clients (the API's throttle is for
that). The rule is the reactions' (domain/reactions.py `retry_after`), the state a bounded map.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from ..domain import reactions
from ..domain.reactions import LimitState, RateLimit

# What a limit counted per user alone, whatever the Space, passes as its Space (join tokens: a loop
# over made-up Space ids would otherwise get a fresh bucket for each).
ANY_SPACE: Final = "*"
# Callers remembered per process; beyond it the least recently seen is forgotten (its next request
# starts a fresh bucket). A Lambda environment serves one request at a time, so this many distinct
# callers within one limit's window is far beyond what it sees.
MAX_CALLERS: Final = 10_000


class ProcessLimits:
    def __init__(self, max_callers: int = MAX_CALLERS) -> None:
        self._states: OrderedDict[tuple[str, str, str], LimitState] = OrderedDict()
        self._lock = threading.Lock()  # the sync routes run on the server's thread pool
        self._max = max_callers

    def accept(self, space_id: str, user: str, now: float, *, limit: RateLimit) -> float:
        """As ReactionStore.accept: 0.0 and the request counted, or the seconds to wait (nothing
        counted)."""
        key = (limit.name, space_id, user)
        with self._lock:
            state = self._states.get(key)
            wait = reactions.retry_after(state, now, limit)
            if wait > 0:
                return wait
            self._states[key] = reactions.after_accept(state, now, limit)
            self._states.move_to_end(key)
            while len(self._states) > self._max:
                self._states.popitem(last=False)
            return 0.0
