"""Form definitions (from the bucket's forms/ folder) and validating a submission."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
