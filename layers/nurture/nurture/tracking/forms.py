"""Form definitions (from the bucket's forms/ folder) and validating a submission."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nurture import clock
from nurture.contacts import (
    PROFILE_FIELDS,
    PhoneError,
    email_problem,
    normalise_email,
    normalise_phone,
)
from nurture.tracking.values import ValueProblem, check_value

MAX_FIELD_CHARS = 2000


class FormField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    contact_field: str | None = None  # a profile field or "fields.<custom>"; None = not stored
    required: bool = False
    type: Literal["text", "email", "phone", "checkbox"] = "text"


class FormConsent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str  # the checkbox in the post that carries the consent
    channel: Literal["email", "sms"]
    topic: str = "marketing"
    text: str  # the wording shown next to the checkbox, kept as proof


class FormDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = ""
    fields: list[FormField]
    consent: list[FormConsent] = Field(default_factory=list)
    # Double opt-in: consents stay "pending" until the contact follows the link in a
    # confirmation email (templates/email/<confirmation_template>.yaml, with {{ confirm_url }}).
    double_opt_in: bool = False
    confirmation_template: str = "double-opt-in"


class FormError(ValueError):
    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "on", "yes")


def validate_submission(
    form: FormDefinition, body: dict[str, Any], default_country_code: str = ""
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Map a submission onto contact fields and consent records.

    Returns (contact_fields, consents); raises FormError naming every bad field.
    """
    errors: list[dict[str, str]] = []
    contact_fields: dict[str, Any] = {}
    for field in form.fields:
        value = body.get(field.name)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            if field.required:
                errors.append({"field": field.name, "reason": "is required"})
            continue
        if not isinstance(value, (str, int, float, bool)):
            errors.append({"field": field.name, "reason": "must be a single value"})
            continue
        try:  # a lone surrogate, a number or a date no later reader can read
            check_value(field.name, value)
        except ValueProblem as refused:
            errors.append({"field": field.name, "reason": refused.reason})
            continue
        value = str(value) if field.type != "checkbox" else _truthy(value)
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            errors.append(
                {"field": field.name, "reason": f"is longer than {MAX_FIELD_CHARS} characters"}
            )
            continue
        if field.type == "email":
            if wrong := email_problem(str(value)):
                errors.append(
                    {"field": field.name, "reason": f"is not a valid email address: {wrong}"}
                )
                continue
            value = normalise_email(str(value))
        if field.type == "phone" or field.contact_field == "phone":
            try:  # a real number, in E.164 (national numbers in DEFAULT_COUNTRY_CODE's plan)
                value = normalise_phone(str(value), default_country_code)
            except PhoneError as exc:
                errors.append({"field": field.name, "reason": str(exc)})
                continue
        if field.contact_field:
            contact_fields[field.contact_field] = value
    if "email" not in contact_fields and not errors:
        errors.append({"field": "email", "reason": "the form must collect an email address"})
    if errors:
        raise FormError(errors)
    consents: list[dict[str, Any]] = [
        {"channel": c.channel, "topic": c.topic, "text": c.text, "source": f"form:{form.id}"}
        for c in form.consent
        if _truthy(body.get(c.field))
    ]
    if form.double_opt_in:
        for consent in consents:
            consent.update(status="pending", confirmation_template=form.confirmation_template)
    return contact_fields, consents


def check_definition(form: FormDefinition) -> list[str]:
    """Problems a marketer must fix before the form can be used."""
    problems = []
    for field in form.fields:
        target = field.contact_field
        if target and not (target in PROFILE_FIELDS or target.startswith("fields.")):
            problems.append(f"field {field.name!r}: unknown contact field {target!r}")
    return problems


# What a form id may look like (a file name in forms/); anything else is no form.
FORM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
CATALOG_SECONDS = 60


class FormSource(Protocol):
    """Where definitions live (nurture.adapters.forms.S3Forms)."""

    def form_ids(self) -> set[str]: ...

    def form_text(self, form_id: str) -> str | None: ...


class FormMisconfigured(ValueError):
    """The definition exists but is not valid YAML or not a valid form."""


@dataclass
class FormCatalog:
    """The forms that exist, read so that a form id that does not exist costs nothing.

    Which ids exist is one listing of `forms/`, refreshed at most once a minute (a deploy's
    new form is live within a minute, as before); a definition is read once per minute per
    *existing* form. An id not in the listing is answered from memory: no S3 read, and no
    cache entry, so random ids neither cost a request each nor grow the cache (it holds at
    most one entry per form that exists)."""

    source: FormSource
    ttl: timedelta = timedelta(seconds=CATALOG_SECONDS)
    now: Callable[[], datetime] = clock.now
    _ids: frozenset[str] = frozenset()
    _ids_until: datetime | None = None
    _forms: dict[str, tuple[datetime, FormDefinition | None]] = dataclasses.field(
        default_factory=dict
    )

    def _known(self) -> frozenset[str]:
        now = self.now()
        if self._ids_until is None or now >= self._ids_until:
            self._ids = frozenset(self.source.form_ids())
            self._ids_until = now + self.ttl
            self._forms = {k: v for k, v in self._forms.items() if k in self._ids}
        return self._ids

    def get(self, form_id: str) -> FormDefinition | None:
        """The definition, or None when there is no such form; raises FormMisconfigured."""
        if not FORM_ID.match(form_id) or form_id not in self._known():
            return None
        now = self.now()
        cached = self._forms.get(form_id)
        if cached and cached[0] > now:
            return cached[1]
        text = self.source.form_text(form_id)
        import yaml  # forms only: page views and tracks never load the YAML parser

        try:
            form = FormDefinition.model_validate(yaml.safe_load(text)) if text else None
        except (yaml.YAMLError, ValidationError) as exc:
            raise FormMisconfigured(str(exc)) from exc
        self._forms[form_id] = (now + self.ttl, form)
        return form
