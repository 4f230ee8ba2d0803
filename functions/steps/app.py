"""Program steps, invoked by the compiled state machines."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer

import nurture.runtime.actions  # noqa: F401  (registers branch, split, webhook, ... in ACTIONS)
import nurture.runtime.actions_schedule  # noqa: F401  (registers schedule_resume: long waits)
from nurture.adapters.aws import S3Blobs, SesMailer, StepFunctionsWorkflows
from nurture.adapters.clients import client
from nurture.adapters.delivery import DynamoDelivery, SnsTexter
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState
from nurture.adapters.reporting import DynamoSplitDecisions
from nurture.delivery.config import load_policy
from nurture.delivery.sender import DeliveryService
from nurture.runtime.steps import StepRequest, StepRunner
from nurture.settings import StepsSettings, load

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


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    logger.append_keys(
        program_id=request.program_id, step_id=request.step_id, action=request.action
    )
    return runner.run(request)
