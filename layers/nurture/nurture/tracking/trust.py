"""How much an event proves about who sent it, and so what it may change.

Every stored activity carries a trust stamp (`Activity.trust`):

    public       sent with a public write key. Every web page holds that key, so it proves
                 nothing about who is on the other end.
    secret       sent with a secret write key, which only the site's servers hold.
    verified     an identify that carries `context.nurture.userHash`: the hex
                 HMAC-SHA256 of its email (or, without an email, its userId) under the
                 site's `identity-verification-secret`, computed by the site's backend for
                 the person who is logged in (what Intercom and Customer.io call identity
                 verification).
    signed_link  a visit that landed from a link in a Nurture email: the page URL carries
                 `nurture_click=<token>`, signed for one contact with an expiry.
    system       written by Nurture itself (engagement, the runtime).

The rule that uses it (nurture.react): only a trusted stamp may change a known contact's
profile, stage or consent, or join a visitor's history to an existing contact. A public one
may send anonymous activity and create a new contact; naming a known contact it is a claim.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

from nurture.contacts import looks_like_email
from nurture.delivery.clicks import CLICK_PARAM
from nurture.delivery.tokens import CLICK, InvalidToken, verify

if TYPE_CHECKING:  # events.py imports Trust from here
    from nurture.tracking.events import Activity

Trust = Literal["public", "secret", "verified", "signed_link", "system"]
KeyKind = Literal["public", "secret"]
TRUSTED: frozenset[str] = frozenset({"secret", "verified", "signed_link", "system"})
MAX_TOKEN_CHARS = 2048


def may_change_known(trust: str) -> bool:
    """Whether an activity with this stamp may change an existing contact or join history."""
    return trust in TRUSTED


def key_kind(keys: Mapping[str, str], given: str | None) -> KeyKind | None:
    """The kind of a write key (`write-keys` secret: {key: "public" | "secret"}), or None."""
    if not given:
        return None
    found: KeyKind | None = None
    for known, kind in keys.items():
        # compare every key, so the time taken says nothing about which one nearly matched
        if hmac.compare_digest(given.encode(), known.encode()) and kind in ("public", "secret"):
            found = "secret" if kind == "secret" else "public"
    return found


def user_hash(secret: str, value: str) -> str:
    """What the site's backend puts in `context.nurture.userHash` (hex HMAC-SHA256)."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def hashed_identity(user_id: str | None, traits: Mapping[str, Any]) -> str | None:
    """The value the hash must cover: the email when the call names one (normalised: trimmed,
    lower case), else the userId. The email decides who the contact is, so a hash of the
    userId alone cannot vouch for an email sent beside it."""
    email = traits.get("email")
    if isinstance(email, str) and looks_like_email(email):
        # As documented for site backends (trimmed, lower case), not the contact key's IDNA
        # form: a backend hashing `user@bücher.de` keeps proving it.
        return email.strip().lower()
    return user_id or None


def identity_verified(
    secret: str | None, user_id: str | None, traits: Mapping[str, Any], context: Mapping[str, Any]
) -> bool:
    nurture = context.get("nurture")
    given = nurture.get("userHash") if isinstance(nurture, Mapping) else None
    if not secret or not isinstance(given, str):  # most calls: no hash, no email check
        return False
    subject = hashed_identity(user_id, traits)
    if subject is None:
        return False
    return hmac.compare_digest(given.lower().encode(), user_hash(secret, subject).encode())


def click_token(url: Any) -> str | None:
    """The signed click token in a page URL, if any."""
    if not isinstance(url, str) or CLICK_PARAM not in url:
        return None
    values = parse_qs(urlsplit(url).query).get(CLICK_PARAM) or []
    token = values[0] if values else None
    return token if token and len(token) <= MAX_TOKEN_CHARS else None


def clicked_contact(secrets: Sequence[str], url: Any, now: int) -> str | None:
    """The contact a page URL's click token was signed for; None when absent, forged,
    tampered with or expired (such a token proves nothing and is otherwise ignored)."""
    token = click_token(url)
    if token is None or not secrets:
        return None
    try:
        return verify(secrets, token, CLICK, now).contact_id
    except InvalidToken:
        return None


@dataclass(frozen=True)
class Proofs:
    """An event's own proof of who sent it, on top of its write key: a verified identify or a
    signed email click. Secrets are read on use (cached by nurture.secrets)."""

    identity_secret: Callable[[], str | None]
    link_secrets: Callable[[], Sequence[str]]
    now: Callable[[], int]  # unix seconds

    def stamp(self, activity: Activity, raw: Mapping[str, Any]) -> Activity:
        if activity.trust not in ("public", "secret"):
            return activity
        if activity.kind == "identify" and activity.trust == "public":
            context = raw.get("context")
            context = context if isinstance(context, Mapping) else {}
            if identity_verified(
                self.identity_secret(), activity.user_id, activity.traits, context
            ):
                return activity.model_copy(update={"trust": "verified"})
        elif activity.kind == "page" and click_token(activity.page.get("url")):
            contact_id = clicked_contact(self.link_secrets(), activity.page.get("url"), self.now())
            if contact_id is not None:
                return activity.model_copy(
                    update={"trust": "signed_link", "contact_id": contact_id}
                )
        return activity
