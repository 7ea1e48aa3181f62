"""The avatar proxy: a person's picture, fetched by the server and sent from our own domain.

A `picture` is a URL its owner chose. A page that loaded it straight from there would tell that
URL's host the address of everyone who looks at the person (a host's picture on a listed Space:
everyone who opens the lobby), and when. Pages load `GET /avatars?url=<picture>` instead: the API
fetches it under the same policy as the composer (contract/avatar_fetch.py: https, allow-listed
hosts, public addresses, no redirects, size and time limits), keeps its centre square re-encoded as
WebP (nothing of the original file reaches the viewer: no metadata, no other format), and the CDN
in front of the route caches it (docs/identity.md, "Avatars through our domain").

This process keeps recent answers too (`CACHE_ENTRIES`), failures included, so a page of fifty
listeners with a broken avatar host costs fifty fetches once, not on every page of every host.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from contract.avatar_fetch import AvatarPolicy, AvatarRefused, check_url, decode, fetch, host_of

log = logging.getLogger("functions.avatars")

USER_AGENT = "spaces-api (avatar proxy)"
MEDIA_TYPE = "image/webp"
WEBP_QUALITY = 80
# How long an answer is kept, here and by whoever caches the response (Cache-Control): a picture
# changed at the same URL shows within this long; a host that failed is asked again after the other.
PICTURE_TTL_S = 3600
FAILURE_TTL_S = 300
# The proxy answers a waiting <img> (and holds a Lambda while it fetches): a shorter deadline than
# the composer's background fetch. Avatar CDNs answer in a fraction of a second.
FETCH_TIMEOUT_S = 2.0
FETCH_DEADLINE_S = 3.0
# ~256 entries of 5-20 KB (a 256 px WebP) at most: a few MB of the Lambda's memory.
CACHE_ENTRIES = 256


class AvatarUnavailable(Exception):
    """The URL is allowed, but what it answered is not a picture we send (or it did not answer)."""


@dataclass(frozen=True)
class _Answer:
    picture: bytes | None  # None: the fetch failed, for `reason`
    reason: str
    expires: float


class AvatarProxy:
    """Pictures by URL, thread-safe (FastAPI runs the route in its thread pool)."""

    def __init__(
        self,
        policy: AvatarPolicy,
        *,
        fetcher: Callable[[str, AvatarPolicy], bytes] = fetch,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The avatar hosts see who asks: the API's proxy, not the composer.
        self.policy = replace(
            policy, user_agent=USER_AGENT, timeout_s=FETCH_TIMEOUT_S, deadline_s=FETCH_DEADLINE_S
        )
        self._fetch = fetcher
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, _Answer] = OrderedDict()

    def picture(self, url: str) -> bytes:
        """The picture at `url` as a WebP of at most AVATAR_KEEP_SIDE pixels a side.

        AvatarRefused: the URL itself is not one the policy fetches (the caller's mistake);
        AvatarUnavailable: it is, but the fetch or the image failed (the avatar host's)."""
        if not self.policy.enabled:
            raise AvatarRefused("avatars are off here (SPACES_AVATAR_HOSTS is empty)")
        check_url(url, self.policy)
        now = self._clock()
        with self._lock:
            answer = self._answers.get(url)
            if answer is not None and answer.expires > now:
                self._answers.move_to_end(url)
                return _unwrap(answer)
        answer = self._load(url, now)
        with self._lock:
            self._answers[url] = answer
            self._answers.move_to_end(url)
            while len(self._answers) > CACHE_ENTRIES:
                self._answers.popitem(last=False)
        return _unwrap(answer)

    def _load(self, url: str, now: float) -> _Answer:
        try:
            square = decode(self._fetch(url, self.policy), self.policy)
        except (AvatarRefused, OSError, ValueError) as exc:
            # The URL is the user's own choice: log its host and the reason, never the whole URL.
            log.info("avatar not sent (%s): %s", host_of(url), exc)
            return _Answer(None, _reason(exc), now + FAILURE_TTL_S)
        out = io.BytesIO()
        square.save(out, format="WEBP", quality=WEBP_QUALITY)
        return _Answer(out.getvalue(), "", now + PICTURE_TTL_S)


def _reason(exc: Exception) -> str:
    if isinstance(exc, AvatarRefused):
        return str(exc)
    if isinstance(exc, ValueError):
        return f"the avatar host could not be asked ({type(exc).__name__})"
    # An OSError's text can carry the address it tried; the kind of failure is enough.
    return f"the avatar host did not answer ({type(exc).__name__})"


def _unwrap(answer: _Answer) -> bytes:
    if answer.picture is None:
        raise AvatarUnavailable(answer.reason)
    return answer.picture
