"""In-memory ports for the send path (nurture.delivery.sender), shared by its unit tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from localcloud.fakes import InMemoryActivities
from nurture import clock
from nurture.contacts import Consent, Contact
from nurture.delivery.caps import evaluate
from nurture.delivery.config import DeliveryPolicy
from nurture.delivery.ports import CapDecision, LedgerEntry, SuppressionRecord
from nurture.delivery.sender import DeliveryService, SendJob
from nurture.delivery.windows import SendWindow
from nurture.ports import OutgoingEmail, ProgramRecord

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TEMPLATE = 'subject: "Hi {{ contact.first_name }}"\nhtml: "<p>x</p>"\ntext: "x"\n'


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


def frozen_clock() -> Iterator[Clock]:
    """For a `now` fixture: the clock stands at NOW until the test moves it."""
    fake = Clock()
    clock.set_clock(fake)
    yield fake
    clock.set_clock(clock.SystemClock())


@dataclass
class Store:
    ledger: dict[str, LedgerEntry] = field(default_factory=dict)
    caps: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    suppressed: dict[str, SuppressionRecord] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    count_calls: list[tuple[str, str, dict[str, int], str | None]] = field(default_factory=list)
    phones: list[tuple[str, str]] = field(default_factory=list)
    refuse_claims: bool = False
    cap_calls: list[tuple[str, str]] = field(default_factory=list)  # (what, channel)

    def ledger_get(self, send_id: str) -> LedgerEntry | None:
        return self.ledger.get(send_id)

    def ledger_note_deferred(self, send_id: str, now: int) -> None:
        entry = self.ledger.get(send_id, LedgerEntry(status=None))
        self.ledger[send_id] = replace(entry, first_deferred_at=entry.first_deferred_at or now)

    def ledger_claim(self, send_id: str, now: int, take_over_from: int | None = None) -> bool:
        entry = self.ledger.get(send_id, LedgerEntry(status=None))
        if self.refuse_claims:  # another invocation claimed it a moment ago
            return False
        if (take_over_from is None and entry.status) or (
            take_over_from is not None and entry.claimed_at != take_over_from
        ):
            return False
        self.ledger[send_id] = replace(entry, status="claimed", claimed_at=now)
        return True

    def ledger_sent(self, send_id: str, message_id: str) -> None:
        self.ledger[send_id] = replace(self.ledger[send_id], status="sent", message_id=message_id)

    def ledger_failed(self, send_id: str, reason: str) -> None:
        self.ledger[send_id] = replace(self.ledger[send_id], status="failed", reason=reason)

    def ledger_release(self, send_id: str) -> None:
        self.ledger[send_id] = replace(self.ledger[send_id], status=None, claimed_at=0)

    def ledger_confirm(self, send_id: str, message_id: str) -> None:
        self.ledger_sent(send_id, message_id)

    def suppression_for(self, channel: str, address: str) -> SuppressionRecord | None:
        return self.suppressed.get(f"{channel}:{address}")

    def suppress(self, address: str, record: SuppressionRecord) -> bool:
        self.suppressed[f"{record.channel}:{address}"] = record
        return True

    def unsuppress(self, channel: str, address: str, only_reason: str) -> bool:
        return self.suppressed.pop(f"{channel}:{address}", None) is not None

    def soft_bounces(self, address: str, event_id: str, at: int, window_seconds: int) -> int:
        return 1

    def reserve_cap(
        self, contact_id: str, channel: str, send_id: str, now: int, window_seconds: int, limit: int
    ) -> CapDecision:
        self.cap_calls.append(("reserve", channel))
        decision = evaluate(self.caps.get(contact_id, []), now, send_id, limit, window_seconds)
        if decision.allowed:
            self.caps[contact_id] = decision.counted
        return decision

    def release_cap(self, contact_id: str, channel: str, send_id: str) -> None:
        self.cap_calls.append(("release", channel))
        self.caps[contact_id] = [s for s in self.caps.get(contact_id, []) if s[1] != send_id]

    def count(
        self, program_id: str, step_id: str, counters: dict[str, int], once_key: str | None
    ) -> bool:
        self.count_calls.append((program_id, step_id, counters, once_key))
        for name, value in counters.items():
            self.counts[name] = self.counts.get(name, 0) + value
        return True

    def update_contact(self, contact_id: str, change: Callable[[Contact], bool]) -> Contact | None:
        raise NotImplementedError

    def remember_phone(self, phone: str, contact_id: str) -> None:
        self.phones.append((phone, contact_id))

    def contacts_for_phone(self, phone: str) -> list[str]:
        return []


class Contacts:
    def __init__(self, contact: Contact):
        self.contact = contact

    def get(self, contact_id: str) -> Contact | None:
        return self.contact if contact_id == self.contact.contact_id else None


class Blobs:
    def get_text(self, key: str) -> str | None:
        return TEMPLATE if key == "templates/email/t.yaml" else None


@dataclass
class State:
    definition: dict[str, Any] = field(default_factory=dict)
    known: str = "p"  # the one program there is

    def get_program(self, program_id: str) -> ProgramRecord | None:
        if program_id != self.known:
            return None
        return ProgramRecord(
            program_id=program_id,
            status="live",
            alias_arn="a",
            version="1",
            triggers=[],
            definition=self.definition,
        )


@dataclass
class Mailer:
    fail_with: Exception | None = None
    sent: list[OutgoingEmail] = field(default_factory=list)

    def send(self, email: OutgoingEmail) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(email)
        return f"ses-{len(self.sent)}"


def _service(
    mailer: Mailer,
    store: Store,
    window: str = "always",
    definition: dict[str, Any] | None = None,
    cap: bool = True,
) -> tuple[DeliveryService, InMemoryActivities]:
    from nurture.delivery.caps import FrequencyCap

    contact = Contact(
        contact_id="c-1",
        created_at="t",
        updated_at="t",
        email="ada@example.com",
        first_name="Ada",
        timezone="Europe/Helsinki",
        consent={
            "email:news": Consent(
                channel="email", topic="news", status="granted", at="t", source="api"
            )
        },
    )
    policy = DeliveryPolicy(
        secrets=["s" * 32],
        public_base_url="https://x.example",
        default_timezone="UTC",
        send_window=SendWindow.parse(window),
        email_cap=FrequencyCap(3, 7 * 86400) if cap else None,
        sms_cap=None,
    )
    activities = InMemoryActivities()
    service = DeliveryService(
        contacts=Contacts(contact),
        activities=activities,  # type: ignore[arg-type]
        state=State(definition or {}),
        blobs=Blobs(),
        store=store,  # type: ignore[arg-type]
        mailer=mailer,
        policy=policy,
        sender="hello@example.com",
    )
    return service, activities


JOB = SendJob(
    program_id="p",
    step_id="s1",
    contact_id="c-1",
    execution="p--c-1",
    params={"template": "t", "purpose": "marketing", "topic": "news"},
)
