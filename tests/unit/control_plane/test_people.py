"""The rules that turn identity-provider claims into the name and avatar people see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.domain import lifecycle
from functions.domain.errors import Forbidden
from functions.domain.model import SpaceState, VideoPolicy
from functions.domain.people import (
    NAME_MAX_CHARS,
    PICTURE_MAX_CHARS,
    Caller,
    caller_from_claims,
    clean_name,
    clean_picture,
    named,
)

pytestmark = pytest.mark.unit

LIVE = lifecycle.new_space(
    space_id="s" * 32,
    title="t",
    host="h",
    video=VideoPolicy.OFF,
    now=datetime(2026, 1, 1, tzinfo=UTC),
    scheduled_start=None,
).replace(state=SpaceState.LIVE)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Alice Liddell", "Alice Liddell"),
        ("  Alice  ", "Alice"),
        ("Ali\x00ce\x07", "Alice"),
        ("Alice\nLiddell", "Alice Liddell"),
        ("Alice\t\t Liddell", "Alice Liddell"),
        ("\u202eecilA", "ecilA"),  # a right-to-left override cannot disguise the name
        ("\u061cAl\u200bice\ufeff", "Alice"),  # bidi marks, zero-width spaces, the BOM: invisible
        ("👩\u200d💻 Ada", "👩\u200d💻 Ada"),  # the joiner of an emoji sequence stays
        ("Zoë 🎙️ Ōkubo", "Zoë 🎙️ Ōkubo"),
        ("<b>Bob</b>", "<b>Bob</b>"),  # kept as text; the page never renders it as HTML
    ],
)
def test_a_name_is_trimmed_and_loses_its_controls(raw: str, shown: str) -> None:
    assert clean_name(raw, fallback="u-1") == shown


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "\x00\x01\n",
        42,
        ["Alice"],
        "\u202e\u2066",
        "\u200b\u200b",
        "\ufeff",
        "\u2064",
        "\u200d\u200d",
        "\ufe0f\U000e0100",  # variation selectors alone
        "\u200d\ufe0f",
        "\u3164 \u3164",  # Hangul fillers
        "\U000e0041\U000e0042",  # tag characters
    ],
)
def test_no_usable_name_falls_back_to_the_id(raw: object) -> None:
    assert clean_name(raw, fallback="9f1c2d7e-user") == "9f1c2d7e-user"


def test_a_long_name_is_cut_to_the_limit_without_a_trailing_space() -> None:
    long = "a" * (NAME_MAX_CHARS - 1) + " bcdef"
    shown = clean_name(long, fallback="u")
    assert len(shown) <= NAME_MAX_CHARS
    assert shown == "a" * (NAME_MAX_CHARS - 1)
    assert len(clean_name("é" * 500, fallback="u")) == NAME_MAX_CHARS


@pytest.mark.parametrize(
    "url",
    ["https://example.com/a.png", "https://cdn.example.org/u/1?s=96&v=2", "HTTPS://Example.com/x.jpg"],
)
def test_an_https_picture_is_kept(url: str) -> None:
    assert clean_picture(url) == url


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        7,
        "http://example.com/a.png",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "file:///etc/passwd",
        "//example.com/a.png",
        "https:///no-host.png",
        "https:example.com/a.png",
        "https://example.com/a b.png",
        "https://example.com/\x00.png",
        "https://[::1/broken",
        "https://example.com/" + "a" * PICTURE_MAX_CHARS,
    ],
)
def test_anything_but_a_short_https_url_is_no_picture(url: object) -> None:
    assert clean_picture(url) is None


def test_http_pictures_only_where_allowed() -> None:
    assert clean_picture("http://127.0.0.1:8000/a.png", allow_http=True) == "http://127.0.0.1:8000/a.png"
    assert clean_picture("javascript:alert(1)", allow_http=True) is None


def test_a_caller_from_claims() -> None:
    claims = {"sub": "u-1", "name": " Alice ", "picture": "https://example.com/a.png", "email": "a@x"}
    assert caller_from_claims("u-1", claims) == Caller("u-1", "Alice", "https://example.com/a.png")
    assert caller_from_claims("u-2", {"sub": "u-2"}) == Caller("u-2", "u-2", None)


def test_the_pushed_documents_stay_far_below_livekits_limits() -> None:
    """The worst case (every name 64 four-byte characters, every avatar URL 1024 characters, ids of
    128 characters, a title of 120 four-byte characters, a full stage and a full queue) against
    livekit-server v1.13.5's defaults: 256 bytes of participant name, 512 KiB of room metadata
    (docs/identity.md)."""

    from pydantic import TypeAdapter, ValidationError

    from functions.api.schemas import Title
    from functions.domain import lifecycle, pushed
    from functions.domain.model import Limits, SpaceState, VideoPolicy

    limits = Limits()
    emoji_name = "😀" * 200
    assert len(clean_name(emoji_name, fallback="x").encode()) <= 256

    # The longest title the API accepts, in four-byte characters.
    titles = TypeAdapter(Title)
    longest_title = titles.validate_python("😀" * 120)
    with pytest.raises(ValidationError):
        titles.validate_python(longest_title + "😀")

    def uid(i: int) -> str:
        return f"{i:04d}" + "u" * 124

    stage = [uid(i) for i in range(1 + limits.max_cohosts + limits.max_speakers)]
    hands = [uid(1000 + i) for i in range(limits.max_raised_hands)]
    space = lifecycle.new_space(
        space_id="a" * 32,
        title=longest_title,
        host=stage[0],
        video=VideoPolicy.SPEAKERS,
        now=datetime.now(UTC),
        scheduled_start=None,
    ).replace(
        state=SpaceState.LIVE,
        cohosts=tuple(stage[1 : 1 + limits.max_cohosts]),
        speakers=tuple(stage[1 + limits.max_cohosts :]),
        raised_hands=tuple(hands),
        names={u: clean_name(emoji_name, fallback=u) for u in stage + hands},
        pictures={u: f"https://img.example/{u}/" + "p" * 1024 for u in stage + hands},
    )
    longest = max(len(p) for p in space.pictures.values())
    space = space.replace(pictures={u: p[:PICTURE_MAX_CHARS] for u, p in space.pictures.items()})
    assert longest > PICTURE_MAX_CHARS and all(clean_picture(p) for p in space.pictures.values())
    metadata = pushed.room_state(space, host_grace=120.0).to_json().encode()
    assert (
        len(pushed.room_state(space, host_grace=120.0).names)
        == len(pushed.room_state(space, host_grace=120.0).pictures)
        == len(stage)
    )
    assert len(metadata) < 32 * 1024  # LiveKit's default limit is 512 KiB
    message = pushed.raised_hands(space, read_at_ms=1)
    assert len(message.to_json().encode()) < 64 * 1024
    assert message.hands == tuple(hands) and 0 < len(message.names) < len(hands)
    assert list(message.names) == hands[: len(message.names)]  # the oldest hands keep their names
    # The names took the whole budget: no face fits beside them.
    assert message.pictures == {}


def test_the_hands_message_names_everyone_first_then_shows_faces_while_the_budget_lasts() -> None:
    """A full queue of Cognito users (UUID subjects, ~20-character names, ~120-character avatar URLs)."""
    from functions.domain import pushed

    hands = tuple(f"2b7e0c1a-aaaa-4bbb-8ccc-{i:012d}" for i in range(200))
    space = LIVE.replace(
        raised_hands=hands,
        names={u: f"Listener Number {u[-3:]}" for u in hands},
        pictures={u: f"https://lh3.googleusercontent.com/a/{u}-" + "x" * 50 + "=s96-c" for u in hands[1:]},
    )
    message = pushed.raised_hands(space, read_at_ms=1)
    assert len(message.names) == 200  # every hand is named
    faces = list(message.pictures)
    assert 100 < len(faces) < 199 and faces == list(hands[1 : 1 + len(faces)])  # the oldest hands' faces
    assert len(message.to_json().encode()) < 64 * 1024
    # A shorter queue has every face.
    few = space.replace(raised_hands=hands[:50])
    assert pushed.raised_hands(few, read_at_ms=1).pictures == {u: space.pictures[u] for u in hands[1:50]}


def test_a_caller_known_to_the_space_changes_nothing_and_a_dropped_avatar_is_forgotten() -> None:
    space = LIVE.replace(names={"u": "U"}, pictures={"u": "https://img.example/u.png"})
    assert named(space, Caller("u", "U", "https://img.example/u.png")) is space
    moved = named(space, Caller("u", "U", "https://img.example/new.png"))
    assert moved.pictures == {"u": "https://img.example/new.png"} and moved.names == {"u": "U"}
    dropped = named(moved, Caller("u", "U"))
    assert dropped.pictures == {} and dropped.names == {"u": "U"}


@pytest.mark.parametrize(
    ("raw", "groups"),
    [
        (["hosts", "admins"], {"hosts", "admins"}),  # the ID token's own JSON
        ("[hosts admins]", {"hosts", "admins"}),  # as API Gateway's JWT authorizer passes a list on
        ("[hosts]", {"hosts"}),
        ("[]", set()),
        (None, set()),
        (7, set()),
        (["hosts", 3, ""], {"hosts"}),
    ],
)
def test_the_groups_claim_in_either_shape(raw: object, groups: set[str]) -> None:
    claims = {"cognito:groups": raw} if raw is not None else {}
    assert caller_from_claims("u", claims).groups == groups


def test_a_host_group_lets_only_its_members_create() -> None:
    lifecycle.authorize_hosting(frozenset(), host_group=None)
    lifecycle.authorize_hosting(frozenset({"hosts"}), host_group="hosts")
    with pytest.raises(Forbidden) as err:
        lifecycle.authorize_hosting(frozenset({"hosts-old"}), host_group="hosts")
    assert err.value.rule == "hosting_not_allowed"
