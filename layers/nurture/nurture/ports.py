"""The small interfaces the domain talks to. Adapters in `nurture.adapters` implement them
for AWS; tests and benchmarks use in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: importing a port builds none of these models (#9)
    from nurture.accounts import Account
    from nurture.contacts import Contact
    from nurture.tracking.events import Activity


class ActivityStore(Protocol):
    def put_new(self, activity: Activity) -> bool:
        """Store the activity once; False when its message id was already stored."""

    def put_many_new(self, activities: list[Activity]) -> list[bool]:
        """`put_new` for a batch; one flag per activity, in order."""

    def put_once(self, activity: Activity) -> bool:
        """Store an activity every copy of which is the same (actor, time and message id
        all fixed): once; False when it was already stored."""

    def list_for(self, actors: list[str], limit: int = 200) -> list[Activity]:
        """Newest first, across all the actor keys of one contact."""


class ContactStore(Protocol):
    def get(self, contact_id: str) -> Contact | None: ...

    def contact_for_actor(self, actor: str) -> str | None: ...

    def create_if_absent(self, contact: Contact, email: str) -> Contact:
        """Create the contact unless the email already has one; return whichever exists."""

    def link_actor(self, actor: str, contact_id: str) -> None: ...

    def link_actors(self, actors: list[str], contact_id: str) -> None:
        """`link_actor` for each (distinct) actor key, in as few writes as the store allows."""

    def save(self, contact: Contact) -> None: ...

    def apply_once(
        self, contact_id: str, key: str, change: Callable[[Contact], dict[str, Any] | None]
    ) -> tuple[bool, dict[str, Any] | None]:
        """Change one contact at most once per `key` (e.g. execution + step), never losing a
        concurrent write: `change` edits the contact in place and returns a note of what changed
        (None: nothing to save). Returns (applied now, note) - on a repeat, the first note.
        Raises KeyError when there is no such contact."""

    def scan(self) -> Iterator[Contact]:
        """Every contact (for daily sweeps; reads the whole table)."""

    def create_for_actor(self, contact: Contact, actor: str) -> Contact:
        """Create a contact known by one actor key (a `user:` id, no email yet) unless that
        actor already has one; return whichever exists."""

    def get_account(self, account_id: str) -> Account | None: ...

    def update_account(self, account_id: str, change: Callable[[Account], bool]) -> Account:
        """Create or change an account without losing a concurrent write: `change` edits it
        in place (a new account comes with only its id and times) and says whether to save."""


@dataclass(frozen=True)
class WaitRegistration:
    contact_id: str
    event_key: str
    execution: str
    step_id: str
    task_token: str
    expires_at: int  # epoch seconds: the deadline plus a margin, for TTL clean-up
    where: dict[str, Any] = field(default_factory=dict)  # the step's property filters


@dataclass(frozen=True)
class Enrolment:
    """A contact's place in one program: its latest entry. Runs never overlap, so one is enough."""

    contact_id: str
    program_id: str
    execution: str  # the latest entry's execution name (deterministic per entry)
    entered_at: str
    # pending (claimed, not started yet) | started | ended | converted | stopped
    status: str = "pending"
    entries: int = 1
    execution_arn: str | None = None


@dataclass(frozen=True)
class Task:
    """Work for a person, e.g. "call this contact", created by a program."""

    task_id: str
    assignee: str
    title: str
    due: str  # ISO 8601 UTC
    created_at: str
    contact_id: str | None = None
    program_id: str | None = None
    status: str = "open"


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

    def get_program(self, program_id: str, consistent: bool = True) -> ProgramRecord | None:
        """consistent=False: an eventually consistent read (half the read units)."""

    def programs_for_trigger(self, trigger_key: str) -> list[str]: ...

    def get_enrolment(self, contact_id: str, program_id: str) -> Enrolment | None: ...

    def enrolments_of(self, contact_id: str) -> list[Enrolment]: ...

    def claim_entry(self, entry: Enrolment, replaces: str | None) -> bool:
        """Record a new entry unless another claim got there first: the stored enrolment must
        still name the execution `replaces` (None: there must be none). False when it lost."""

    def set_entry_status(
        self,
        contact_id: str,
        program_id: str,
        execution: str,
        status: str,
        execution_arn: str | None = None,
    ) -> None:
        """Update the entry `execution` (no-op when a later entry replaced it)."""

    def mark_once(self, key: str, expires_at: int | None = None) -> bool:
        """True the first time `key` is marked, False ever after (until it expires)."""

    def count_attempt(self, key: str, expires_at: int) -> int:
        """Count one more attempt at `key`; returns how many there have been, this one included."""

    def add_task(self, task: Task) -> bool:
        """Store a task once (by task id); False when it was already stored."""

    def tasks_for(self, assignee: str) -> list[Task]:
        """The assignee's tasks, soonest due first."""

    def register_wait(self, wait: WaitRegistration) -> None: ...

    def waits_for(self, contact_id: str, event_key: str) -> list[WaitRegistration]: ...

    def remove_wait(self, wait: WaitRegistration) -> None: ...

    def claim_send(self, send_key: str) -> str | None:
        """Claim a send; None if new, else the message id already recorded for it."""

    def record_send(self, send_key: str, message_id: str) -> None: ...


class DefinitionRefused(Exception):
    """Step Functions refused a state machine definition (InvalidDefinition)."""


class BlobStore(Protocol):
    def get_text(self, key: str) -> str | None: ...

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None: ...


class Workflows(Protocol):
    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str: ...

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Resume a waiting step; False when the wait is gone (timed out or finished)."""

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        """Fail a waiting step with `error` (the compiled Catch routes it); False when the
        wait is gone."""

    def is_running(self, execution_arn: str) -> bool: ...

    def stop(self, execution_arn: str, cause: str) -> bool:
        """Stop a running execution; False when it was not running."""


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
