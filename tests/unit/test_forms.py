"""Validating a form submission against its definition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nurture.tracking.forms import (
    MAX_FIELD_CHARS,
    FormDefinition,
    FormError,
    check_definition,
    validate_submission,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def signup() -> FormDefinition:
    """The repository's own newsletter form."""
    return FormDefinition.model_validate(
        yaml.safe_load((ROOT / "forms/newsletter-signup.yaml").read_text())
    )


def fields_in_error(form: FormDefinition, body: dict[str, Any]) -> list[str]:
    with pytest.raises(FormError) as caught:
        validate_submission(form, body)
    return [e["field"] for e in caught.value.errors]


def test_the_repository_form_is_well_defined(signup: FormDefinition) -> None:
    assert check_definition(signup) == []


def test_a_good_submission_maps_onto_contact_fields(signup: FormDefinition) -> None:
    fields, consents = validate_submission(
        signup,
        {
            "email": "  Ada@Example.COM ",
            "first_name": " Ada ",
            "company": "",
            "unknown": "ignored",
        },
    )
    assert fields == {"email": "ada@example.com", "first_name": "Ada"}
    assert consents == []


@pytest.mark.parametrize("ticked", ["on", "true", "1", "yes", True])
def test_a_ticked_consent_box_is_recorded_with_its_wording(
    signup: FormDefinition, ticked: Any
) -> None:
    _, consents = validate_submission(
        signup, {"email": "ada@example.com", "consent_newsletter": ticked}
    )
    assert consents == [
        {
            "channel": "email",
            "topic": "newsletter",
            "source": "form:newsletter-signup",
            "text": "Yes, send me the monthly newsletter. I can unsubscribe at any time.",
            # the sign-up is double opt-in: the consent counts once its owner confirms it
            "status": "pending",
            "confirmation_template": "double-opt-in",
        }
    ]


@pytest.mark.parametrize("unticked", ["off", "false", "0", "", False, None])
def test_an_unticked_consent_box_grants_nothing(signup: FormDefinition, unticked: Any) -> None:
    _, consents = validate_submission(
        signup, {"email": "ada@example.com", "consent_newsletter": unticked}
    )
    assert consents == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "is required"),
        ({"email": None}, "is required"),
        ({"email": "   "}, "is required"),
        ({"email": "ada"}, "is not a valid email address"),
        ({"email": "ada@example"}, "is not a valid email address"),
        ({"email": "ada lovelace@example.com"}, "is not a valid email address"),
        ({"email": {"address": "ada@example.com"}}, "must be a single value"),
        ({"email": "a" * (MAX_FIELD_CHARS + 1)}, "is longer than"),
    ],
)
def test_a_bad_email_names_the_field(
    signup: FormDefinition, body: dict[str, Any], reason: str
) -> None:
    with pytest.raises(FormError) as caught:
        validate_submission(signup, body)
    assert caught.value.errors == [{"field": "email", "reason": caught.value.errors[0]["reason"]}]
    assert reason in caught.value.errors[0]["reason"]
    assert "email" in str(caught.value)


def test_every_bad_field_is_named_at_once(signup: FormDefinition) -> None:
    body = {"email": "nope", "first_name": ["A", "B"], "company": "x" * (MAX_FIELD_CHARS + 1)}
    assert fields_in_error(signup, body) == ["email", "first_name", "company"]


def test_a_form_that_collects_no_email_cannot_be_submitted() -> None:
    form = FormDefinition(
        id="callback", fields=[{"name": "phone", "contact_field": "phone", "type": "phone"}]
    )
    assert fields_in_error(form, {"phone": "+44 20 7946 0000"}) == ["email"]


def test_custom_fields_and_checkboxes_map_as_declared() -> None:
    form = FormDefinition(
        id="event",
        fields=[
            {"name": "email", "contact_field": "email", "required": True, "type": "email"},
            {"name": "seats", "contact_field": "fields.seats"},
            {"name": "vegetarian", "contact_field": "fields.vegetarian", "type": "checkbox"},
            {"name": "honeypot"},
        ],
    )
    fields, _ = validate_submission(
        form, {"email": "a@b.co", "seats": 3, "vegetarian": "on", "honeypot": "x"}
    )
    assert fields == {"email": "a@b.co", "fields.seats": "3", "fields.vegetarian": True}


def test_a_definition_mapping_to_an_unknown_contact_field_is_a_problem() -> None:
    form = FormDefinition(
        id="f",
        fields=[
            {"name": "e", "contact_field": "email"},
            {"name": "shoe", "contact_field": "shoe_size"},
        ],
    )
    assert check_definition(form) == ["field 'shoe': unknown contact field 'shoe_size'"]
