"""What program steps do when their state runs: send an email, register a wait."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from nurture import clock
from nurture.delivery.sender import DeliveryService, SendJob
from nurture.ports import (
    ActivityStore,
    BlobStore,
    ContactStore,
    Mailer,
    StateStore,
    WaitRegistration,
    Workflows,
)
from nurture.reporting.ports import SplitDecisions
from nurture.runtime.records import record_activity
from nurture.runtime.triggers import waited_event_keys

WAIT_MARGIN_SECONDS = 86400

# Step actions defined in other modules register here with @action("name"), so a new step
# type needs no edit to this file: ACTIONS[name](runner, request) -> result dict.
ACTIONS: dict[str, Callable[[StepRunner, StepRequest], dict[str, Any]]] = {}
# The actions StepRunner implements itself, as methods of the same name.
_BUILT_IN = frozenset({"send_email", "send_sms", "wait_for_event"})
# Task-token steps whose token this module completes from the action's result
# (nurture.runtime.tokens); wait_for_event's token is completed by the awaited activity.
TOKEN_COMPLETED = frozenset({"send_email", "send_sms", "wait_until"})


def action(
    name: str,
) -> Callable[
    [Callable[[StepRunner, StepRequest], dict[str, Any]]],
    Callable[[StepRunner, StepRequest], dict[str, Any]],
]:
    def register(
        fn: Callable[[StepRunner, StepRequest], dict[str, Any]],
    ) -> Callable[[StepRunner, StepRequest], dict[str, Any]]:
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
    # wait_until in a loop: always go on in a new execution (see the compiler's CONTRACT)
    resume_by_schedule: bool = False


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
    # Sends (email, SMS) go through delivery: permission, quiet hours, caps, send-once.
    delivery: DeliveryService | None = None
    # Automatic A/B winners decided by the reports function (split steps that opted in).
    split_decisions: SplitDecisions | None = None

    def run(self, request: StepRequest) -> dict[str, Any]:
        result: dict[str, Any]
        if request.action in _BUILT_IN:
            result = getattr(self, request.action)(request)
        else:
            registered = ACTIONS.get(request.action)
            if registered is None:
                raise StepFailed(f"unknown step action {request.action!r}")
            result = registered(self, request)
        if request.task_token and request.action in TOKEN_COMPLETED:
            from nurture.runtime.tokens import complete

            complete(self, request, result)
        return result

    def _delivery(self) -> DeliveryService:
        if self.delivery is None:
            raise StepFailed("delivery is not configured for this steps function")
        return self.delivery

    @staticmethod
    def _job(request: StepRequest) -> SendJob:
        return SendJob(
            program_id=request.program_id,
            step_id=request.step_id,
            contact_id=request.contact_id,
            execution=request.execution,
            params=request.params,
        )

    def send_email(self, request: StepRequest) -> dict[str, Any]:
        """Send once if allowed (consent, suppression), when allowed (window, cap); see
        nurture.delivery.sender. Returns sent | already_sent | skipped | deferred."""
        return self._delivery().send_email(self._job(request))

    def send_sms(self, request: StepRequest) -> dict[str, Any]:
        return self._delivery().send_sms(self._job(request))

    def wait_for_event(self, request: StepRequest) -> dict[str, Any]:
        if not request.task_token:
            raise StepFailed("wait_for_event needs a task token")
        event_key = request.params["event_key"]
        timeout = int(request.params["timeout_seconds"])
        # recorded so funnels show the step reached (what ends the wait is recorded anyway)
        record_activity(
            self.activities,
            request.contact_id,
            "program.waiting",
            f"{request.execution}#{request.step_id}",
            {
                "program_id": request.program_id,
                "step_id": request.step_id,
                "execution": request.execution,
                "event": event_key,
            },
        )
        # A click can land seconds after the send, before this step ran: if this run's
        # email was already opened/clicked, resume at once instead of waiting for it again.
        if event_key.startswith("email."):
            for activity in self.activities.list_for([f"contact:{request.contact_id}"], limit=100):
                if (
                    event_key in waited_event_keys(activity)
                    and activity.properties.get("execution") == request.execution
                ):
                    self.workflows.resume(
                        request.task_token,
                        {
                            "event": activity.name,
                            "message_id": activity.message_id,
                            "occurred_at": activity.occurred_at,
                        },
                    )
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
