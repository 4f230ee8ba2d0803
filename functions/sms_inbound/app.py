"""Inbound SMS (SNS two-way SMS -> topic): STOP and its variants opt the number out,
START opts it back in (to service messages; marketing needs a new consent)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer

from nurture.adapters.clients import client
from nurture.adapters.delivery import DynamoDelivery
from nurture.adapters.dynamodb import DynamoActivities
from nurture.delivery.inbound import SmsReplies
from nurture.settings import Tables, load

settings = load(Tables)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
_db = client("dynamodb")
replies = SmsReplies(
    store=DynamoDelivery(_db, settings.state_table, settings.contacts_table),
    activities=DynamoActivities(_db, settings.activities_table, settings.state_table),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The SNS notification read as the dict it is: powertools' data classes package imports
    # its ~40 event classes with it, 7% of `import boto3` at each cold start (#9).
    outcomes = [replies.handle(record["Sns"]["Message"]) for record in event["Records"]]
    logger.info("inbound sms", extra={"outcomes": outcomes})  # outcomes only: no numbers, no text
    return {"outcomes": outcomes}
