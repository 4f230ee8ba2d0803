"""Program steps, invoked by the compiled state machines."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer

import nurture.actions  # noqa: F401  (registers branch, split, webhook, ... in ACTIONS)
import nurture.actions_schedule  # noqa: F401  (registers schedule_resume: long waits)
from nurture.adapters.aws import S3Blobs, SesMailer, StepFunctionsWorkflows
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState
from nurture.settings import StepsSettings, load
from nurture.steps import StepRequest, StepRunner

settings = load(StepsSettings)
logger = Logger()
tracer = Tracer()
_db = boto3.client("dynamodb")
runner = StepRunner(
    contacts=DynamoContacts(_db, settings.contacts_table),
    activities=DynamoActivities(_db, settings.activities_table, settings.state_table),
    state=DynamoState(_db, settings.state_table),
    blobs=S3Blobs(boto3.client("s3"), settings.content_bucket),
    mailer=SesMailer(boto3.client("sesv2"), settings.configuration_set),
    workflows=StepFunctionsWorkflows(boto3.client("stepfunctions")),
    sender=settings.sender_email,
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    logger.append_keys(program_id=request.program_id, step_id=request.step_id, action=request.action)
    return runner.run(request)
