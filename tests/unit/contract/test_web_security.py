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


BUILT = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <title>Spaces</title>
    <script type="module" crossorigin src="./assets/index-x.js"></script>
  </head>
  <body></body>
</html>
"""


def test_the_hosted_page_carries_its_policy_first_without_what_a_meta_element_cannot_hold() -> None:
    policy = web_security.content_security_policy(connect=["https://api.example.org"])
    page = web_security.page_with_policy(BUILT, policy)
    meta = '<meta http-equiv="Content-Security-Policy" content="'
    assert page.index('<meta charset="UTF-8" />') < page.index(meta) < page.index("<script")
    content = page[page.index(meta) + len(meta) :].split('"', 1)[0]
    carried = _directives(content)
    assert "frame-ancestors" not in carried
    assert carried["connect-src"] == ["'self'", "https://api.example.org"]
    assert carried["script-src"] == ["'self'"]  # single quotes stay as they are in the attribute
    # Nothing else of the page changes.
    assert (
        page.replace(page[page.index("\n    " + meta) : page.index("/>", page.index(meta)) + 2], "") == BUILT
    )


def test_a_quote_or_markup_in_the_policy_cannot_leave_the_attribute() -> None:
    page = web_security.page_with_policy(BUILT, 'connect-src "x" <y> & z')
    assert 'content="connect-src &quot;x&quot; &lt;y&gt; &amp; z"' in page


def test_a_page_without_a_charset_is_refused() -> None:
    with pytest.raises(ValueError, match="charset"):
        web_security.page_with_policy(
            "<html><head><script src=x></script></head></html>", "default-src 'self'"
        )


def test_the_hosted_headers_carry_the_frame_policy_the_page_cannot() -> None:
    headers = web_security.hosted_headers()
    assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    policy = web_security.content_security_policy(connect=[])
    assert headers["Content-Security-Policy"] in policy.split("; ")
    assert web_security.meta_policy(policy) + "; " + headers["Content-Security-Policy"] == policy
    local = web_security.security_headers(policy)
    assert {k: v for k, v in local.items() if k != "Content-Security-Policy"}.items() <= headers.items()
    assert headers["X-Frame-Options"] == "DENY"
