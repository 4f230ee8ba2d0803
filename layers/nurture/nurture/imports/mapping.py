"""The mapping file: which CSV column fills which contact field, and which columns state
consent (one column per channel and topic, with the wording the person was shown).

    columns:                 # CSV column -> field
      Email: email           # required: the contact key
      First name: first_name
      Phone: phone
      Birthday: birthday     # a date (date_format)
      Plan: fields.plan      # a custom field
      Labels: tags           # comma-separated tags
    consent:
      - column: Newsletter opt-in
        channel: email
        topic: newsletter
        wording: "Send me the monthly newsletter"
        at_column: Opt-in date   # when it was given (optional; else consent_at)
    consent_at: "2026-03-01"     # when the file's consents were given, if no at_column
    date_format: "%Y-%m-%d"
    default_country_code: "44"   # for national phone numbers
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nurture.contacts import PROFILE_FIELDS

# yes/no words a consent column may hold (case-insensitive); an empty cell states nothing
GRANTED = frozenset({"yes", "y", "true", "1", "granted", "opt-in", "opted in", "subscribed"})
WITHDRAWN = frozenset({"no", "n", "false", "0", "withdrawn", "opt-out", "opted out"})
TOPIC = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CUSTOM = re.compile(r"^fields\.[A-Za-z_][A-Za-z0-9_]{0,63}$")
DATE_FIELDS = frozenset({"birthday"})


class MappingError(ValueError):
    """The mapping is not valid: which field of it, and why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ConsentColumn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1)
    channel: Literal["email", "sms"]
    topic: str = "marketing"
    wording: str = Field(min_length=1, max_length=2000)
    at_column: str | None = None

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not TOPIC.match(value):
            raise ValueError("lower-case letters, digits, '-' and '_' (at most 64)")
        return value

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.topic}"


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str]
    consent: list[ConsentColumn] = Field(default_factory=list)
    consent_at: str | None = None
    date_format: str = "%Y-%m-%d"
    default_country_code: str = ""

    @field_validator("columns")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for column, target in value.items():
            if not column:
                raise ValueError("a column name is empty")
            if target not in PROFILE_FIELDS and target != "tags" and not CUSTOM.match(target):
                raise ValueError(
                    f"column {column!r}: {target!r} is not a field (one of "
                    f"{', '.join(PROFILE_FIELDS)}, tags, or fields.<name>)"
                )
            if target in seen:
                raise ValueError(f"columns {seen[target]!r} and {column!r} both fill {target!r}")
            seen[target] = column
        if "email" not in seen:
            raise ValueError("no column fills 'email' (the contact key)")
        return value

    @field_validator("consent_at")
    @classmethod
    def _at(cls, value: str | None) -> str | None:
        from nurture.imports.rows import parse_moment

        if value is not None and parse_moment(value, "%Y-%m-%d") is None:
            raise ValueError("not a date or an ISO 8601 time")
        return value

    @field_validator("default_country_code")
    @classmethod
    def _code(cls, value: str) -> str:
        if value and not value.lstrip("+").isdigit():
            raise ValueError("a calling code such as 44 or +358")
        return value

    @model_validator(mode="after")
    def _unique_consents(self) -> Mapping:
        keys = [c.key for c in self.consent]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"two consent columns for {key}")
        for item in self.consent:
            if item.column in self.columns:
                raise ValueError(f"consent column {item.column!r} is also mapped to a field")
        return self

    def needed_columns(self) -> set[str]:
        found = set(self.columns) | {c.column for c in self.consent}
        return found | {c.at_column for c in self.consent if c.at_column}


def parse_mapping(data: Any) -> Mapping:
    """The mapping from its parsed YAML/JSON; MappingError names the first bad field."""
    if not isinstance(data, dict):
        raise MappingError("mapping", "must be an object with 'columns'")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "mapping"
        reason = first["msg"].removeprefix("Value error, ")
        raise MappingError(where, reason) from None


def check_header(mapping: Mapping, header: list[str]) -> None:
    """Every column the mapping names must be in the file's header row."""
    missing = sorted(mapping.needed_columns() - set(header))
    if missing:
        raise MappingError("columns", f"not in the file's header: {', '.join(missing)}")
