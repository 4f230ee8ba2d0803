"""The small interfaces the domain talks to. Adapters in `nurture.adapters` implement them
for AWS; tests and benchmarks use in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from nurture.contacts import Contact
from nurture.events import Activity


class ActivityStore(Protocol):
    def put_new(self, activity: Activity) -> bool:
        """Store the activity once; False when its message id was already stored."""

    def put_many_new(self, activities: list[Activity]) -> list[bool]:
        """`put_new` for a batch; one flag per activity, in order."""

    def list_for(self, actors: list[str], limit: int = 200) -> list[Activity]:
        """Newest first, across all the actor keys of one contact."""


class ContactStore(Protocol):
    def get(self, contact_id: str) -> Contact | None: ...

    def contact_for_actor(self, actor: str) -> str | None: ...

    def create_if_absent(self, contact: Contact, email: str) -> Contact:
        """Create the contact unless the email already has one; return whichever exists."""

    def link_actor(self, actor: str, contact_id: str) -> None: ...

    def save(self, contact: Contact) -> None: ...


@dataclass(frozen=True)
class WaitRegistration:
    contact_id: str
    event_key: str
    execution: str
    step_id: str
    task_token: str
    expires_at: int  # epoch seconds: the deadline plus a margin, for TTL clean-up


@dataclass(frozen=True)
class ProgramRecord:
    program_id: str
    status: str  # live | paused | archived
    alias_arn: str
    version: str
    triggers: list[str]
    definition: dict[str, Any]


class StateStore(Protocol):
    def register_program(self, record: ProgramRecord) -> None: ...

    def get_program(self, program_id: str) -> ProgramRecord | None: ...

    def programs_for_trigger(self, trigger_key: str) -> list[str]: ...

    def claim_enrolment(self, program_id: str, contact_id: str, execution_name: str) -> str:
        """Record an entry; returns 'new', 'pending' (claimed but not started) or 'started'."""

    def mark_enrolment_started(self, program_id: str, contact_id: str) -> None: ...

    def register_wait(self, wait: WaitRegistration) -> None: ...

    def waits_for(self, contact_id: str, event_key: str) -> list[WaitRegistration]: ...

    def remove_wait(self, wait: WaitRegistration) -> None: ...

    def claim_send(self, send_key: str) -> str | None:
        """Claim a send; None if new, else the message id already recorded for it."""

    def record_send(self, send_key: str, message_id: str) -> None: ...


class BlobStore(Protocol):
    def get_text(self, key: str) -> str | None: ...

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None: ...


class Workflows(Protocol):
    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str: ...

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Resume a waiting step; False when the wait is gone (timed out or finished)."""


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    sender: str
    subject: str
    html: str
    text: str
    tags: dict[str, str]
    headers: dict[str, str]


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> str:
        """Send and return the provider's message id."""
