"""The account (company) model and how `group` traits update it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

# Traits with a field of their own (Segment's reserved group traits, plus `domain` and
# `country`); any other scalar trait is kept in `traits`.
ACCOUNT_FIELDS = ("name", "domain", "industry", "employees", "plan", "country", "website")
_TRAIT_ALIASES = {"company_name": "name", "companyName": "name", "employee_count": "employees"}


class Account(BaseModel):
    model_config = ConfigDict(extra="ignore")

    account_id: str  # the group id the site sends
    created_at: str
    updated_at: str
    name: str | None = None
    domain: str | None = None
    industry: str | None = None
    employees: int | None = None
    plan: str | None = None
    country: str | None = None
    website: str | None = None
    traits: dict[str, Any] = Field(default_factory=dict)


def _domain_of(website: str) -> str | None:
    host = urlsplit(website if "//" in website else f"//{website}").hostname
    return host.removeprefix("www.") if host else None


def _employees(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().replace(",", "").isdigit():
        return int(value.strip().replace(",", ""))
    return None


def apply_traits(account: Account, traits: dict[str, Any], overwrite: bool = True) -> list[str]:
    """Set the account's fields from group traits; returns the names that changed. Without
    `overwrite` only empty fields are filled. A trait of the wrong shape (a number of
    employees that is not a number) is ignored."""
    changed: list[str] = []
    for raw_name, value in traits.items():
        name = _TRAIT_ALIASES.get(raw_name, raw_name)
        if name == "employees":
            value = _employees(value)
            if value is None:
                continue
        elif name in ACCOUNT_FIELDS:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                continue
            value = str(value).strip()
            if name == "domain":
                value = (_domain_of(value) or "").lower() or None
        elif not isinstance(value, (str, int, float, bool)) and value is not None:
            continue  # nested objects (an address) are not kept: nothing reads them
        current = getattr(account, name) if name in ACCOUNT_FIELDS else account.traits.get(name)
        if not overwrite and current not in (None, ""):
            continue
        if name in ACCOUNT_FIELDS:
            if current != value:
                setattr(account, name, value)
                changed.append(name)
        elif account.traits.get(name) != value:
            account.traits[name] = value
            changed.append(name)
    if account.website and not account.domain:
        account.domain = _domain_of(account.website)
        changed.append("domain")
    return changed
