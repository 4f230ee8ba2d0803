"""The hand-made score (nurture.scoring) of a contact as of their cutoff: what the guardrail
and the model card compare the predictive model with.

The replay runs the scoring engine's own `_apply` over what the contact did before the
cutoff (oldest first, same rule matching, frequencies, caps and decay), then reads the
behaviour score at the cutoff; the fit points come from `fit_of` on the profile snapshot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nurture import clock
from nurture.contacts import Contact
from nurture.programs.conditions import activity_matches
from nurture.scoring.engine import _apply, load_state
from nurture.scoring.fit import fit_of
from nurture.scoring.model import NOT_SCORABLE_PREFIXES, ScoringModel
from nurture.scoring.state import behaviour_at
from nurture.tracking.events import Activity


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T") + ("" if "+" in text else "+00:00"))


def _contact(contact_id: str, profile: dict[str, Any] | None) -> Contact:
    profile = profile or {}
    domain = profile.get("email_domain")
    return Contact.model_construct(
        contact_id=contact_id,
        created_at=profile.get("created_at") or "",
        updated_at="",
        email=f"someone@{domain}" if domain else None,
        job_title=profile.get("job_title"),
        country=profile.get("country"),
        company=None,
        fields={},
        stage="lead",
        score=0,
        grade=None,
        scoring={},
        predictive_score=None,
        predictive_factors=[],
        predictive_model=None,
        tags=[],
        consent={},
        suppressed={},
        actors=[],
        account_id=profile.get("account_id"),
        phone=None,
        first_name=None,
        last_name=None,
        city=None,
        postal_address=None,
        timezone=None,
        locale=None,
        birthday=None,
        created_by=None,
        created_trust=None,
    )


def handmade_scores(
    model: ScoringModel,
    history: list[dict[str, Any]],
    profiles: dict[str, dict[str, Any]],
    accounts: dict[str, dict[str, Any]],
    cutoffs: dict[str, str],
) -> dict[str, dict[str, float]]:
    """{contact_id: {"behaviour", "fit", "total"}} at each contact's cutoff."""
    by_contact: dict[str, list[dict[str, Any]]] = {c: [] for c in cutoffs}
    for row in history:
        by_contact.setdefault(row["contact_id"], []).append(row)
    out: dict[str, dict[str, float]] = {}
    for contact_id, rows in by_contact.items():
        contact = _contact(contact_id, profiles.get(contact_id))
        for row in rows:
            activity = Activity.model_construct(
                actor=f"contact:{contact_id}",
                message_id=str(row["id"]),
                kind=row["kind"],
                name=row["name"],
                occurred_at=clock.iso(_moment(row["ts"])),
                received_at="",
                contact_id=contact_id,
                properties={"program_id": row.get("program_id")},
                page={"url": row["url"]} if row.get("url") else {},
                traits={},
                trust="system",
            )
            if activity.name.startswith(NOT_SCORABLE_PREFIXES):
                continue
            rules = [r for r in model.behaviour if activity_matches(r.event, r.where, activity)]
            if rules:
                at = _moment(row["ts"])
                _apply(model, contact, activity, rules, None, at, at)
        cutoff = _moment(cutoffs[contact_id])
        behaviour = behaviour_at(load_state(contact, model), cutoff)
        fit = 0.0
        if model.grade is not None:
            profile = profiles.get(contact_id) or {}
            company = accounts.get(profile.get("account_id") or "") or {}
            domain = profile.get("email_domain")
            account = {
                "industry": company.get("industry"),
                "employees": company.get("employees"),
                "country": company.get("country") or profile.get("country"),
                "domain": domain,
            }
            fit = float(fit_of(model.grade, contact, account)[0])
        out[contact_id] = {"behaviour": behaviour, "fit": fit, "total": behaviour + fit}
    return out
