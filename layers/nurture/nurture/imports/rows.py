"""One row of the file checked: the contact's key, its fields and the consents it states,
or the reasons it cannot be imported (row number, field, reason; never the values)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from nurture.contacts import PhoneError, email_problem, normalise_email, normalise_phone
from nurture.imports.mapping import DATE_FIELDS, GRANTED, WITHDRAWN, Mapping

MAX_VALUE_CHARS = 1000
ISO_DATE = "%Y-%m-%d"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_TAGS = 50


@dataclass(frozen=True)
class Problem:
    row: int
    field: str  # the CSV column (or "row")
    reason: str


@dataclass(frozen=True)
class StatedConsent:
    channel: str
    topic: str
    status: str  # granted | withdrawn
    at: str | None  # when the file says it was given; None: not stated
    wording: str

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.topic}"


@dataclass
class Row:
    number: int
    email: str
    profile: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    consents: list[StatedConsent] = field(default_factory=list)


def parse_moment(text: str, date_format: str) -> str | None:
    """An ISO 8601 UTC time from a date (date_format) or an ISO 8601 time; None if neither."""
    value = text.strip()
    if date_format == ISO_DATE and len(value) == 10 and value[4] == "-":  # the usual case, fast
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
        return f"{day.isoformat()}T00:00:00Z" if 1900 <= day.year <= 2200 else None
    for parse in (
        lambda v: datetime.strptime(v, date_format).replace(tzinfo=UTC),
        lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")),
    ):
        try:
            moment = parse(value)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if not 1900 <= moment.year <= 2200:
            return None
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def check_row(mapping: Mapping, number: int, cells: dict[str, Any]) -> Row | list[Problem]:
    """The row, or every problem in it (a row with any problem is not imported at all)."""
    problems: list[Problem] = []

    def bad(column: str, reason: str) -> None:
        problems.append(Problem(number, column, reason))

    if None in cells:  # csv puts the surplus cells of a long row under None
        bad("row", "has more cells than the header")
    row = Row(number, "")
    for column, target in mapping.columns.items():
        raw = cells.get(column)
        value = (raw or "").strip() if isinstance(raw, str) else ""
        if target == "email":
            if not value:
                bad(column, "is empty (the email is the contact key)")
                continue
            problem = email_problem(value)
            if problem:
                bad(column, f"is not an email address: {problem}")
            else:
                row.email = normalise_email(value)
            continue
        if not value:
            continue  # an empty cell changes nothing
        if len(value) > MAX_VALUE_CHARS or CONTROL.search(value):
            bad(column, f"over {MAX_VALUE_CHARS} characters or holds control characters")
        elif target == "phone":
            try:
                row.profile["phone"] = normalise_phone(value, mapping.default_country_code)
            except PhoneError as exc:
                bad(column, f"phone number {exc}")
        elif target in DATE_FIELDS:
            moment = parse_moment(value, mapping.date_format)
            if moment is None:
                bad(column, f"is not a date ({mapping.date_format})")
            else:
                row.profile[target] = moment[:10]
        elif target == "tags":
            tags = sorted({t.strip() for t in value.split(",") if t.strip()})
            if len(tags) > MAX_TAGS:
                bad(column, f"more than {MAX_TAGS} tags")
            row.tags = tags
        elif target.startswith("fields."):
            row.custom[target.removeprefix("fields.")] = value
        else:
            row.profile[target] = value
    for item in mapping.consent:
        value = (cells.get(item.column) or "").strip().lower()
        if not value:
            continue  # the file says nothing: no consent recorded, ever invented
        if value in GRANTED:
            status = "granted"
        elif value in WITHDRAWN:
            status = "withdrawn"
        else:
            bad(item.column, "is not a consent value (yes/no, true/false, 1/0, granted/withdrawn)")
            continue
        at = None
        stated = (cells.get(item.at_column) or "").strip() if item.at_column else ""
        if stated:
            at = parse_moment(stated, mapping.date_format)
            if at is None:
                bad(str(item.at_column), f"is not a date ({mapping.date_format}) or ISO time")
                continue
        elif mapping.consent_at:
            at = parse_moment(mapping.consent_at, mapping.date_format)
        if item.channel == "sms" and "phone" not in row.profile:
            bad(item.column, "SMS consent for a row without a valid phone number")
            continue
        row.consents.append(StatedConsent(item.channel, item.topic, status, at, item.wording))
    return problems or row
