"""Rule violations as values: the API maps each kind to one status code and passes the rule on."""

from __future__ import annotations


class DomainError(Exception):
    """`rule` is a stable machine-readable name; `message` says what the caller can do about it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class NotFound(DomainError):
    """-> 404"""


class Forbidden(DomainError):
    """The caller's role does not allow this. -> 403"""


class Conflict(DomainError):
    """Wrong state or a limit reached. -> 409"""


class Busy(DomainError):
    """The store could not take it now (contention, throttling, unreachable); nothing was changed and
    the same request can be sent again after `retry_after` seconds. -> 503 with Retry-After"""

    def __init__(self, rule: str, message: str, *, retry_after: int = 1) -> None:
        super().__init__(rule, message)
        self.retry_after = retry_after


class TooMany(DomainError):
    """A per-user rate limit (domain/reactions.py RateLimit) refused this one: nothing was done;
    the same request passes after `retry_after` seconds. -> 429 with Retry-After"""

    def __init__(self, rule: str, message: str, *, retry_after: float) -> None:
        super().__init__(rule, message)
        self.retry_after = retry_after


class PartlyDone(Exception):  # noqa: N818 - not an error of its own: it carries one (__cause__)
    """A failure (its __cause__) after part of a request was already stored or spent. `done` says
    what, for the answer to say instead of "nothing was changed": a throttled store is still a
    503 with Retry-After, anything else stays what the cause is."""

    def __init__(self, done: str) -> None:
        super().__init__(done)
        self.done = done
