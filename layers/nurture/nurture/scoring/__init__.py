"""Lead scoring: behaviour points with decay, a fit grade, explanations and the MQL rule.

Models are files (`scoring/*.yaml`, `nurture.scoring.model`), deployed like programs
(`nurture.scoring.deploy`). The react function scores each activity inline
(`nurture.scoring.engine.Scorer`); `explain` says why a contact has its score and grade.
"""

from __future__ import annotations

from datetime import datetime

from nurture.ports import ContactStore
from nurture.scoring.explain import Explanation, Reason, explain_contact, score_now


def explain(contact_id: str, at: datetime, contacts: ContactStore) -> Explanation | None:
    """Score and grade of a contact at `at`, with the contributing rules newest first."""
    contact = contacts.get(contact_id)
    return explain_contact(contact, at) if contact is not None else None


__all__ = ["Explanation", "Reason", "explain", "explain_contact", "score_now"]
