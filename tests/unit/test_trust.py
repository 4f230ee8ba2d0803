"""Trust stamps: write-key kinds, identity verification hashes, signed click links."""

from __future__ import annotations

import hashlib
import hmac
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from nurture.delivery.clicks import (
    CLICK_PARAM,
    click_token,
    sign_site_links,
    with_token,
    without_token,
)
from nurture.tracking.trust import (
    clicked_contact,
    identity_verified,
    key_kind,
    may_change_known,
    user_hash,
)

pytestmark = pytest.mark.unit

SECRETS = ["link-secret-0123456789abcdef"]
KEYS = {"pk-browser": "public", "sk-server": "secret", "odd-key": "admin"}


def test_write_keys_have_a_kind_and_unknown_ones_none() -> None:
    assert key_kind(KEYS, "pk-browser") == "public"
    assert key_kind(KEYS, "sk-server") == "secret"
    assert key_kind(KEYS, "sk-server ") is None
    assert key_kind(KEYS, "odd-key") is None  # a kind that is neither is no key at all
    assert key_kind(KEYS, None) is None and key_kind(KEYS, "") is None


def test_only_secret_verified_signed_and_system_may_change_a_known_contact() -> None:
    assert [
        t for t in ("public", "secret", "verified", "signed_link", "system") if may_change_known(t)
    ] == [
        "secret",
        "verified",
        "signed_link",
        "system",
    ]


def test_the_user_hash_is_hmac_sha256_as_a_backend_computes_it() -> None:
    expected = hmac.new(b"s3cret", b"ada@example.com", hashlib.sha256).hexdigest()
    assert user_hash("s3cret", "ada@example.com") == expected


def test_the_hash_covers_the_email_when_there_is_one_else_the_user_id() -> None:
    by_email = {"nurture": {"userHash": user_hash("s", "ada@example.com")}}
    by_user = {"nurture": {"userHash": user_hash("s", "u-1")}}
    assert identity_verified("s", "u-1", {"email": "Ada@Example.com"}, by_email)
    assert not identity_verified("s", "u-1", {"email": "ada@example.com"}, by_user)
    assert identity_verified("s", "u-1", {}, by_user)
    assert not identity_verified("other", "u-1", {}, by_user)
    assert not identity_verified(None, "u-1", {}, by_user)
    assert not identity_verified("s", "u-1", {}, {"nurture": "not-an-object"})
    assert not identity_verified("s", None, {}, by_user)


def test_a_click_token_names_its_contact_until_it_expires() -> None:
    token = click_token(SECRETS, "c-1", expires_at=2_000)
    url = with_token("https://example.com/p?a=1", token)
    assert clicked_contact(SECRETS, url, now=1_999) == "c-1"
    assert clicked_contact(SECRETS, url, now=2_001) is None
    assert clicked_contact(["another-secret-0123456789"], url, now=1_000) is None
    assert clicked_contact(SECRETS, "https://example.com/p?a=1", now=1_000) is None
    assert clicked_contact(SECRETS, None, now=1_000) is None
    assert without_token(url) == "https://example.com/p?a=1"


def test_only_links_to_the_site_get_the_token() -> None:
    html = (
        '<a href="https://www.example.com/a?x=1&amp;y=2">site</a>'
        "<a href='https://example.com/b'>site</a>"
        '<a href="https://other.org/c">elsewhere</a>'
        '<a ses:no-track href="https://example.com/u/abc">unsubscribe</a>'
        '<a href="https://api.example.com/c/tok">nurture page</a>'
        '<a href="mailto:hi@example.com">mail</a>'
    )
    text = "Read https://example.com/b and https://other.org/c"
    signed_html, signed_text = sign_site_links(
        html, text, ["example.com"], "TOKEN", skip="https://api.example.com"
    )
    hrefs = [unescape(h) for h in re.findall(r"href=[\"']([^\"']+)", signed_html)]
    tokens = [parse_qs(urlsplit(h).query).get(CLICK_PARAM) for h in hrefs]
    assert tokens == [["TOKEN"], ["TOKEN"], None, None, None, None]
    assert parse_qs(urlsplit(hrefs[0]).query) == {"x": ["1"], "y": ["2"], CLICK_PARAM: ["TOKEN"]}
    assert "https://example.com/b?nurture_click=TOKEN" in signed_text
    assert "https://other.org/c" in signed_text and "other.org/c?" not in signed_text


def test_no_site_hosts_no_tokens() -> None:
    assert sign_site_links("<a href='https://example.com'>x</a>", "t", [], "T", "") == (
        "<a href='https://example.com'>x</a>",
        "t",
    )
