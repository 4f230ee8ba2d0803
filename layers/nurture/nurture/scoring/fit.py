"""The fit grade: profile rules on the contact and its account, A (ideal) to F.

Grade rules are conditions in the program language, on the contact's fields and on
`account.*`: the account the contact belongs to (from `group` calls, `Contact.account_id`),
or, for a contact without one, what the profile says about the company (`company`, and the
custom fields `industry`, `employees` / `company_size`, `company_country`, `account_*`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from nurture.contacts import Contact
from nurture.programs.conditions import evaluate
from nurture.scoring.model import GradeModel
from nurture.scoring.state import FitReason

# Looks an account up by id: returns its traits, or None (see `account_lookup`).
AccountLookup = Callable[[str], dict[str, Any] | None]

_PROFILE_ACCOUNT_FIELDS = {
    "industry": ("industry", "company_industry", "account_industry"),
    "employees": ("employees", "company_size", "company_employees", "account_employees"),
    "country": ("company_country", "account_country"),
    "domain": ("company_domain", "account_domain"),
    "plan": ("plan", "account_plan"),
}


def account_lookup(contacts: Any) -> AccountLookup | None:
    """The contact store's `get_account` (accounts from `group` calls), when it has one."""
    get = getattr(contacts, "get_account", None)
    if get is None:
        return None

    def lookup(account_id: str) -> dict[str, Any] | None:
        account = get(account_id)
        if account is None:
            return None
        if hasattr(account, "model_dump"):
            data: dict[str, Any] = account.model_dump(mode="json")
            return data
        return dict(account)

    return lookup


def account_from_profile(contact: Contact) -> dict[str, Any]:
    """The company as the contact's own profile describes it."""
    fields = contact.fields
    account: dict[str, Any] = {"name": contact.company}
    for name, sources in _PROFILE_ACCOUNT_FIELDS.items():
        account[name] = next((fields[s] for s in sources if fields.get(s) not in (None, "")), None)
    if account["country"] is None:
        account["country"] = contact.country
    if account["domain"] is None and contact.email and "@" in contact.email:
        account["domain"] = contact.email.rsplit("@", 1)[1]
    account["employees"] = _number(account["employees"])
    return account


def account_of(contact: Contact, lookup: AccountLookup | None) -> dict[str, Any]:
    account_id = getattr(contact, "account_id", None) or contact.fields.get("account_id")
    if account_id and lookup is not None:
        found = lookup(str(account_id))
        if found is not None:
            profile = account_from_profile(contact)
            # The account's own traits win; the profile fills what the account lacks.
            return {**profile, **{k: v for k, v in found.items() if v not in (None, "")}}
    return account_from_profile(contact)


def _number(value: Any) -> Any:
    """'250' -> 250, so company-size rules compare numbers; ranges like '51-200' stay text."""
    if isinstance(value, str):
        try:
            return int(value.replace(",", "").strip())
        except ValueError:
            return value
    return value


def grade_version(grade: GradeModel) -> str:
    """Changes when the grade rules do, so a redeployed model regrades each contact."""
    text = json.dumps(grade.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fit_of(
    grade: GradeModel, contact: Contact, account: dict[str, Any]
) -> tuple[int, str, list[FitReason]]:
    """(fit points, grade letter, the rules that held) for the contact as it is now."""
    data = contact.model_dump(mode="json", exclude={"scoring", "consent", "suppressed"})
    data["account"] = account
    reasons = [
        FitReason(rule=rule.id, points=rule.points, reason=rule.label)
        for rule in grade.rules
        if evaluate(rule.when, data)
    ]
    points = sum(r.points for r in reasons)
    return points, grade.grade_for(points), reasons
