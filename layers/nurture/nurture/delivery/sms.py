"""SMS: phone numbers in E.164, message length and segments, and opt-out keywords."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nurture.contacts import PhoneError
from nurture.contacts import normalise_phone as e164

# GSM 03.38 default alphabet; the extension table's characters take two septets.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")
MAX_SEGMENTS = 10

# Replies that opt a number out (what carriers and AWS treat as opt-out), and back in.
STOP_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT-OUT", "REVOKE"}
)
START_KEYWORDS = frozenset({"START", "UNSTOP", "SUBSCRIBE"})


class InvalidNumber(PhoneError):
    pass


def normalise_phone(raw: str, default_country_code: str = "") -> str:
    """A phone number in E.164 (+<country><number>), checked against the real numbering
    plans (nurture.contacts.normalise_phone); raises InvalidNumber with the reason.

    Accepts "+358 40 123 4567", "00358401234567" and, with a default country code,
    national numbers like "040 123 4567" (read with that country's trunk prefix).
    """
    try:
        return e164(raw, default_country_code)
    except PhoneError as exc:
        raise InvalidNumber(str(exc)) from None


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # GSM-7 | UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def measure(text: str) -> SmsLength:
    """Encoding, length and segment count as the network will send the message.

    GSM-7: 160 septets in one segment, else 153 per segment (an escape pair is never split).
    UCS-2: 70 code units in one segment, else 67 (a surrogate pair is never split).
    """
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        sizes = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        sizes = [len(c.encode("utf-16-le")) // 2 for c in text]
        single, multi, encoding = 70, 67, "UCS-2"
    units = sum(sizes)
    if units <= single:
        return SmsLength(encoding, units, 1 if units else 0)
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return SmsLength(encoding, units, segments)


def keyword(body: str) -> str:
    """The first word of a reply, upper-cased, without punctuation around it."""
    words = body.strip().split()
    return words[0].strip(".,!?;:\"'").upper() if words else ""


def is_stop(body: str) -> bool:
    return keyword(body) in STOP_KEYWORDS


def is_start(body: str) -> bool:
    return keyword(body) in START_KEYWORDS


@dataclass(frozen=True)
class InboundSms:
    from_number: str
    to_number: str
    body: str
    message_id: str


def parse_inbound(message: str) -> InboundSms | None:
    """The SNS two-way SMS notification (originationNumber, messageBody, ...), or None."""
    try:
        data: Any = json.loads(message)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("originationNumber"), str):
        return None
    return InboundSms(
        from_number=data["originationNumber"],
        to_number=str(data.get("destinationNumber", "")),
        body=str(data.get("messageBody", "")),
        message_id=str(data.get("inboundMessageId", "")),
    )
