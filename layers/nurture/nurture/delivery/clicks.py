"""Signed click links: links in a contact's email that lead to the site carry a token saying
whose email it was, so the visit they start can be joined to the contact.

Only links to the site's own hosts (`SiteHosts`) get the token: a link to anyone else's site
would hand them a proof of the reader's identity. `ses:no-track` links (unsubscribe) and
links to Nurture's own pages are left alone. The token (purpose `click`, HMAC-signed with
the link-signing secrets, expiring) is the `nurture_click` query parameter; the ingest
function checks it when the page view arrives (nurture.tracking.trust).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from nurture.delivery.tokens import CLICK, LinkToken, sign

CLICK_PARAM = "nurture_click"  # nurture.tracking.trust reads it back
_ANCHOR = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_TEXT_URL = re.compile(r"""https?://[^\s<>"')\]]+""")


def click_token(secrets: Sequence[str], contact_id: str, expires_at: int) -> str:
    return sign(secrets, LinkToken(contact_id=contact_id, purpose=CLICK, expires_at=expires_at))


def _on_site(url: str, hosts: Sequence[str]) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return parts.scheme in ("http", "https") and any(
        host == h or host.endswith(f".{h}") for h in hosts
    )


def with_token(url: str, token: str) -> str:
    """The URL with `nurture_click=<token>` (replacing one already there)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != CLICK_PARAM]
    query.append((CLICK_PARAM, token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def without_token(url: str) -> str:
    """The URL as the marketer wrote it (what engagement records a click on)."""
    if CLICK_PARAM not in url:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != CLICK_PARAM]
    return urlunsplit(parts._replace(query=urlencode(query)))


def sign_site_links(
    html: str, text: str, hosts: Sequence[str], token: str, skip: str
) -> tuple[str, str]:
    """Add the token to every link to one of `hosts` in both parts of an email, except
    `ses:no-track` anchors and URLs starting with `skip` (Nurture's own link base)."""
    hosts = [h.strip().lower() for h in hosts if h.strip()]
    if not hosts:
        return html, text
    # imported by the first email signed: the html package loads its 2,000-name entity table,
    # which the functions that import this module for its tokens never read (#9 cold starts)
    from html import escape, unescape

    def wanted(url: str) -> bool:
        return _on_site(url, hosts) and not (skip and url.startswith(skip))

    def anchor(match: re.Match[str]) -> str:
        start, quote, raw = match.group(1), match.group(2), match.group(3)
        url = unescape(raw)
        if "ses:no-track" in start or not wanted(url):
            return match.group(0)
        return f"{start}{quote}{escape(with_token(url, token), quote=True)}{quote}"

    def plain(match: re.Match[str]) -> str:
        url = match.group(0)
        return with_token(url, token) if wanted(url) else url

    return _ANCHOR.sub(anchor, html), _TEXT_URL.sub(plain, text)
