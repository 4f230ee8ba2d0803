"""The local cloud's captured email: `links()` gives the URLs a reader's browser follows."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from localcloud.capture import CapturedEmail
from nurture.delivery.clicks import CLICK_PARAM, sign_site_links

pytestmark = pytest.mark.unit


def email(html: str) -> CapturedEmail:
    return CapturedEmail(
        message_id="m-1",
        to=["ada@example.com"],
        sender="hello@nurture.local",
        subject="s",
        html=html,
        text="t",
        headers={},
        tags={},
        configuration_set=None,
        sent_at=datetime(2026, 1, 5, tzinfo=UTC),
    )


def test_links_are_unescaped_as_a_browser_reads_them() -> None:
    captured = email(
        '<p>Hi <a class="x" href="https://example.com/a?x=1&amp;y=2&#38;z=%26">A</a>'
        "<a href='https://example.com/b?q=&quot;hi&quot;'>B</a>"
        '<A HREF="https://example.com/c">C</A>'
        '<a ses:no-track href="https://example.com/u/tok?a=1&amp;b=2">unsubscribe</a>'
        "<a name=anchor>no href</a></p>"
    )
    assert captured.links() == [
        "https://example.com/a?x=1&y=2&z=%26",
        'https://example.com/b?q="hi"',
        "https://example.com/c",
    ]


def test_a_signed_site_link_keeps_its_query_and_token() -> None:
    # Nurture's own escaping of a link with a query, as its emails carry it
    signed, _ = sign_site_links(
        '<a href="https://example.com/p?utm=a&amp;ref=mail">go</a>', "", ["example.com"], "TOK", ""
    )
    assert "&amp;" in signed
    [link] = email(signed).links()
    assert parse_qs(urlsplit(link).query) == {"utm": ["a"], "ref": ["mail"], CLICK_PARAM: ["TOK"]}
