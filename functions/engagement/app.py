"""SES engagement events (configuration set -> SNS) recorded as contact activity."""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source

from nurture.adapters.dynamodb import DynamoActivities
from nurture.engagement import record_ses_event
from nurture.settings import EngagementSettings, load

settings = load(EngagementSettings)
logger = Logger()
tracer = Tracer()
activities = DynamoActivities(
    boto3.client("dynamodb"), settings.activities_table, settings.state_table
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: Any) -> dict[str, int]:
    recorded = 0
    for record in event.records:
        activity = record_ses_event(json.loads(record.sns.message), activities)
        recorded += activity is not None
    return {"recorded": recorded}
