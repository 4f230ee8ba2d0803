"""What program steps do when their state runs: send an email, register a wait."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from nurture import clock
from nurture.events import Activity
from nurture.ids import stable_id, tag_safe
from nurture.ports import (
    ActivityStore,
    BlobStore,
    ContactStore,
    Mailer,
    OutgoingEmail,
    StateStore,
    WaitRegistration,
    Workflows,
)
from nurture.react import waited_event_keys
from nurture.rendering import load_template, render_email

WAIT_MARGIN_SECONDS = 86400

# Step actions defined in other modules register here with @action("name"), so a new step
# type needs no edit to this file: ACTIONS[name](runner, request) -> result dict.
ACTIONS: dict[str, Callable[[StepRunner, StepRequest], dict[str, Any]]] = {}


def action(name: str) -> Callable[[Callable[[StepRunner, StepRequest], dict[str, Any]]],
                                  Callable[[StepRunner, StepRequest], dict[str, Any]]]:
    def register(fn: Callable[[StepRunner, StepRequest], dict[str, Any]]) -> Callable[[StepRunner, StepRequest], dict[str, Any]]:
        ACTIONS[name] = fn
        return fn

    return register


class StepRequest(BaseModel):
    """The payload a compiled program passes to the steps function."""

    action: str
    program_id: str
    step_id: str
    contact_id: str
    execution: str
    params: dict[str, Any] = {}
    task_token: str | None = None


class StepFailed(Exception):
    """A step that cannot succeed on retry (e.g. the contact is gone)."""


@dataclass
class StepRunner:
    contacts: ContactStore
    activities: ActivityStore
    state: StateStore
    blobs: BlobStore
    mailer: Mailer
    workflows: Workflows
    sender: str

    def run(self, request: StepRequest) -> dict[str, Any]:
        method = getattr(self, f"do_{request.action}", None)
        if method is not None:
            result: dict[str, Any] = method(request)
            return result
        registered = ACTIONS.get(request.action)
        if registered is None:
            raise StepFailed(f"unknown step action {request.action!r}")
        return registered(self, request)

    def do_send_email(self, request: StepRequest) -> dict[str, Any]:
        return self.send_email(request)

    def do_wait_for_event(self, request: StepRequest) -> dict[str, Any]:
        return self.wait_for_event(request)

    def send_email(self, request: StepRequest) -> dict[str, Any]:
        send_key = f"{request.execution}#{request.step_id}"
        already = self.state.claim_send(send_key)
        if already is not None:
            # A retried step: the message went (or is going) out once already.
            return {"status": "already_sent", "message_id": already, "retry_at": None}
        contact = self.contacts.get(request.contact_id)
        if contact is None or not contact.email:
            raise StepFailed(f"contact {request.contact_id} has no email address")
        template = load_template(self.blobs, request.params["template"])
        rendered = render_email(template, {
            "contact": contact.template_context(),
            "program": {"id": request.program_id},
        })
        tags = {
            "contact_id": contact.contact_id,
            "program_id": request.program_id,
            "step_id": request.step_id,
            "execution": tag_safe(request.execution),
        }
        message_id = self.mailer.send(OutgoingEmail(
            to=contact.email, sender=self.sender, subject=rendered.subject, html=rendered.html,
            text=rendered.text, tags=tags, headers={},
        ))
        self.state.record_send(send_key, message_id)
        now = clock.iso(clock.now())
        self.activities.put_new(Activity(
            actor=f"contact:{contact.contact_id}", contact_id=contact.contact_id,
            message_id=stable_id("email.sent", send_key), kind="email", name="email.sent",
            occurred_at=now, received_at=now,
            properties={"program_id": request.program_id, "step_id": request.step_id,
                        "execution": request.execution, "ses_message_id": message_id,
                        "subject": rendered.subject, "template": request.params["template"]},
        ))
        return {"status": "sent", "message_id": message_id, "retry_at": None}

    def wait_for_event(self, request: StepRequest) -> dict[str, Any]:
        if not request.task_token:
            raise StepFailed("wait_for_event needs a task token")
        event_key = request.params["event_key"]
        timeout = int(request.params["timeout_seconds"])
        # A click can land seconds after the send, before this step ran: if this run's
        # email was already opened/clicked, resume at once instead of waiting for it again.
        if event_key.startswith("email."):
            for activity in self.activities.list_for([f"contact:{request.contact_id}"], limit=100):
                if (event_key in waited_event_keys(activity)
                        and activity.properties.get("execution") == request.execution):
                    self.workflows.resume(request.task_token, {"event": activity.name,
                                                               "message_id": activity.message_id,
                                                               "occurred_at": activity.occurred_at})
                    return {"status": "already_happened"}
        deadline = int(clock.now().timestamp()) + timeout
        self.state.register_wait(
            WaitRegistration(
                contact_id=request.contact_id,
                event_key=event_key,
                execution=request.execution,
                step_id=request.step_id,
                task_token=request.task_token,
                expires_at=deadline + WAIT_MARGIN_SECONDS,
                where=request.params.get("where") or {},
            )
        )
        return {"status": "waiting"}
