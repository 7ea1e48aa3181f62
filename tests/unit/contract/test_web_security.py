"""contract/web_security.py: the page's policy, from the origins it is given."""

from __future__ import annotations

import pytest

from contract import web_security


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split("; "))}


def test_the_policy_allows_the_page_its_own_origins_and_what_it_is_given() -> None:
    ws, http = web_security.signalling_origins("wss://rtc.example.org/")
    policy = _directives(
        web_security.content_security_policy(
            connect=["https://api.example.org", ws, http, "https://cdn.example.org"],
            media=["https://cdn.example.org"],
            images=["https://cdn.example.org"],
        )
    )
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == [
        "'self'",
        "https://api.example.org",
        "wss://rtc.example.org",
        "https://rtc.example.org",
        "https://cdn.example.org",
    ]
    assert policy["media-src"] == ["'self'", "blob:", "https://cdn.example.org"]
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]


def test_an_origin_named_twice_is_listed_once() -> None:
    policy = _directives(web_security.content_security_policy(connect=["https://a.test", "https://a.test"]))
    assert policy["connect-src"] == ["'self'", "https://a.test"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ws://127.0.0.1:7880", ("ws://127.0.0.1:7880", "http://127.0.0.1:7880")),
        ("wss://rtc.example.org/rtc?x=1", ("wss://rtc.example.org", "https://rtc.example.org")),
    ],
)
def test_signalling_origins(url: str, expected: tuple[str, str]) -> None:
    assert web_security.signalling_origins(url) == expected


@pytest.mark.parametrize("url", ["https://rtc.example.org", "rtc.example.org", ""])
def test_a_url_that_is_no_signalling_address_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        web_security.signalling_origins(url)
