"""The CRM connection: lead events pushed as signed, versioned webhooks (schema:
schemas/crm-webhook.v1.schema.json), and what a CRM posts back (deal won or lost, owner
changed, a sales touch logged).

Signing, both ways (the same shared secret):

    X-Nurture-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>\\n<METHOD>\\n<URL>\\n<body>")>

Covering the method and the full URL means a signed request cannot be replayed against
another endpoint; receivers also refuse timestamps more than five minutes away. Every
delivery carries `Idempotency-Key` (the same on each retry of one event), so a receiver
that stores the keys it has seen never applies an event twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nurture.contacts import Contact, looks_like_email
from nurture.ids import stable_id
from nurture.sales.team import Owner, account_value
from nurture.webhooks.signing import (  # noqa: F401 - part of this module's interface
    SIGNATURE_HEADER,
    TOLERANCE_SECONDS,
    signature,
    verify_signature,
)

PAYLOAD_VERSION = "1"
SCHEMA_ID = "https://nurture.dev/schemas/crm-webhook.v1.schema.json"
MAX_POSTBACK_BYTES = 16 * 1024
# Lead events pushed to the CRM (stage changes that these already describe are not repeated).
PUSHED_EVENTS = (
    "lead.mql",
    "lead.reactivated",
    "lead.accepted",
    "lead.recycled",
    "lead.disqualified",
    "contact.stage_changed",
)
# Retries of a failed delivery: a minute, then doubling, at most six hours apart.
FIRST_RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 6 * 3600


def retry_delay(attempts: int) -> int:
    return min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)


def delivery_id(event_message_id: str) -> str:
    return stable_id("crm", event_message_id)


_CONTACT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "country",
    "city",
    "timezone",
)
_ACCOUNT_FIELDS = ("name", "domain", "industry", "employees", "plan", "country", "region")


def _account(account: Any | None, contact: Contact) -> dict[str, Any] | None:
    if account is None:
        return None
    out: dict[str, Any] = {"id": str(account_value(account, "account_id") or "")}
    for name in _ACCOUNT_FIELDS:
        value = account_value(account, name)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


def build_payload(
    *,
    event: str,
    event_id: str,
    occurred_at: str,
    contact: Contact,
    account: Any | None,
    owner: Owner | None,
    owner_email: str | None,
    scores: dict[str, Any],
    details: dict[str, Any],
    recent: list[dict[str, str]],
) -> dict[str, Any]:
    """The v1 payload (see schemas/crm-webhook.v1.schema.json)."""
    person: dict[str, Any] = {"id": contact.contact_id, "stage": contact.stage}
    for name in _CONTACT_FIELDS:
        value = getattr(contact, name)
        if value:
            person[name] = value
    owner_out: dict[str, Any] | None = None
    if owner is not None:
        owner_out = {"email": owner.email, "name": owner.name, "timezone": owner.timezone}
    elif owner_email:
        owner_out = {"email": owner_email, "name": "", "timezone": None}
    reasons = [
        {
            "rule": str(r.get("rule", "")),
            "points": r.get("points", 0),
            "at": r.get("at"),
            **({"kind": r["kind"]} if isinstance(r.get("kind"), str) else {}),
        }
        for r in scores.get("reasons", [])
    ]
    return {
        "version": PAYLOAD_VERSION,
        "id": delivery_id(event_id),
        "event": event,
        "occurred_at": occurred_at,
        "contact": person,
        "account": _account(account, contact),
        "owner": owner_out,
        "scores": {
            "behaviour": scores.get("score", contact.score),
            "grade": scores.get("grade"),
            "reasons": reasons,
        },
        "details": details,
        "recent_activity": recent,
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class SignedRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def signed_request(
    secret: str, url: str, body: bytes, event: str, delivery: str, now: int
) -> SignedRequest:
    return SignedRequest(
        url=url,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Nurture-CRM/1",
            SIGNATURE_HEADER: signature(secret, now, "POST", url, body),
            "Idempotency-Key": delivery,
            "X-Nurture-Delivery": delivery,
            "X-Nurture-Event": event,
        },
    )


# --- what a CRM posts back -----------------------------------------------------------------
class _Strict(BaseModel):
    # defer_build: built on the first CRM post-back, not when the sales function starts (#9)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ContactRef(_Strict):
    id: str | None = Field(default=None, min_length=1, max_length=64)
    email: str | None = Field(default=None, max_length=254)

    @model_validator(mode="after")
    def _one(self) -> ContactRef:
        if not self.id and not self.email:
            raise ValueError("give the contact's `id` or `email`")
        if self.email is not None and not looks_like_email(self.email):
            raise ValueError("`email` is not an email address")
        return self


class Deal(_Strict):
    id: str = Field(min_length=1, max_length=128)
    amount: float = Field(ge=0, le=1e12)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    name: str = Field(default="", max_length=200)


class _Postback(_Strict):
    version: Literal["1"] = "1"
    id: str = Field(min_length=1, max_length=128, description="the CRM's event id")
    contact: ContactRef


class DealWon(_Postback):
    type: Literal["deal.won"]
    deal: Deal


class DealLost(_Postback):
    type: Literal["deal.lost"]
    reason: str = Field(default="", max_length=500)
    recycle_days: int | None = Field(default=None, ge=1, le=3650)


class OwnerChanged(_Postback):
    type: Literal["owner.changed"]
    owner: str = Field(max_length=254)

    @model_validator(mode="after")
    def _email(self) -> OwnerChanged:
        if not looks_like_email(self.owner):
            raise ValueError("`owner` is not an email address")
        return self


class TouchLogged(_Postback):
    type: Literal["activity.logged"]
    channel: Literal["call", "email", "meeting", "other"] = "other"
    note: str = Field(default="", max_length=500)


Postback = Annotated[DealWon | DealLost | OwnerChanged | TouchLogged, Field(discriminator="type")]


class PostbackError(ValueError):
    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []


def parse_postback(body: bytes) -> DealWon | DealLost | OwnerChanged | TouchLogged:
    from pydantic import TypeAdapter

    if len(body) > MAX_POSTBACK_BYTES:
        raise PostbackError(413, f"the body is larger than {MAX_POSTBACK_BYTES // 1024} KB")
    from nurture.tracking.body import BadBody, parse_json

    try:  # the ingest API's parser: no RecursionError, lone surrogate or 4,300-digit int
        data = parse_json(body) if body.strip() else None
    except BadBody as exc:
        raise PostbackError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PostbackError(400, "the body must be a JSON object")
    try:
        parsed: DealWon | DealLost | OwnerChanged | TouchLogged = TypeAdapter(
            Postback
        ).validate_python(data)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"][1:] or e["loc"]) or "type",
                "reason": e["msg"].removeprefix("Value error, "),
            }
            for e in exc.errors(include_url=False)
        ]
        raise PostbackError(400, "the event is not valid", errors) from None
    return parsed
