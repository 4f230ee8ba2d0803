"""Program steps, invoked by the compiled state machines."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger, Tracer

from nurture.adapters.aws import S3Blobs, SesMailer, StepFunctionsWorkflows
from nurture.adapters.clients import client
from nurture.adapters.delivery import DynamoDelivery, SnsTexter
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState
from nurture.adapters.reporting import DynamoSplitDecisions
from nurture.delivery.config import load_policy
from nurture.delivery.sender import DeliveryService
from nurture.runtime.steps import _BUILT_IN, StepRequest, StepRunner
from nurture.settings import load
from nurture.settings.steps import StepsSettings

settings = load(StepsSettings)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
_db = client("dynamodb")
# Throttling is retried here with backoff; what is left after that defers the step.
_retrying = {"retries": {"mode": "adaptive", "max_attempts": 6}}
_contacts = DynamoContacts(_db, settings.contacts_table)
_activities = DynamoActivities(_db, settings.activities_table, settings.state_table)
_state = DynamoState(_db, settings.state_table)
_blobs = S3Blobs(client("s3"), settings.content_bucket)
_mailer = SesMailer(client("sesv2", **_retrying), settings.configuration_set)
runner = StepRunner(
    contacts=_contacts,
    activities=_activities,
    state=_state,
    blobs=_blobs,
    mailer=_mailer,
    workflows=StepFunctionsWorkflows(client("stepfunctions")),
    sender=settings.sender_email,
    delivery=DeliveryService(
        contacts=_contacts,
        activities=_activities,
        state=_state,
        blobs=_blobs,
        store=DynamoDelivery(_db, settings.state_table, settings.contacts_table),
        mailer=_mailer,
        policy=load_policy(),
        sender=settings.sender_email,
        texter=SnsTexter(client("sns", **_retrying)),
    ),
    split_decisions=DynamoSplitDecisions(_db, settings.state_table),
)


@functools.cache
def _register_actions() -> None:
    """The step types other modules define register in ACTIONS when the first of them runs,
    not at import: the sends and waits StepRunner runs itself, the most common steps, need
    none of them (the compiler, webhooks, tasks, schedules: #9 cold starts)."""
    import nurture.runtime.actions  # noqa: F401  (branch, split, webhook, ...)
    import nurture.runtime.actions_schedule  # noqa: F401  (schedule_resume: long waits)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    if request.action not in _BUILT_IN:
        _register_actions()
    logger.append_keys(
        program_id=request.program_id, step_id=request.step_id, action=request.action
    )
    return runner.run(request)
