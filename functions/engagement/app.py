"""SES engagement events (configuration set -> SNS): contact activity, per-step counters,
the send ledger, and suppression of bounced and complaining addresses."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Tracer

from nurture.adapters.clients import client
from nurture.adapters.delivery import DynamoDelivery
from nurture.adapters.dynamodb import DynamoActivities
from nurture.delivery.caps import FrequencyCap
from nurture.delivery.engagement import EngagementRecorder
from nurture.settings import load
from nurture.settings.engagement import EngagementSettings

settings = load(EngagementSettings)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
_db = client("dynamodb")
recorder = EngagementRecorder(
    activities=DynamoActivities(_db, settings.activities_table, settings.state_table),
    store=DynamoDelivery(_db, settings.state_table, settings.contacts_table),
    soft_bounce_limit=FrequencyCap.parse(settings.soft_bounce_limit) or FrequencyCap(3, 30 * 86400),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    recorded = 0
    # The SNS notification read as the dict it is: powertools' data classes package imports
    # its ~40 event classes with it, 7% of `import boto3` at each cold start (#9).
    for record in event["Records"]:
        activity = recorder.handle(json.loads(record["Sns"]["Message"]))
        recorded += activity is not None
    return {"recorded": recorded}
