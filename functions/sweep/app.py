"""Triggers over all contacts: the daily sweep (dates, inactivity, automation rules) and the
one-time selection of a segment program when it is deployed."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Tracer

from nurture.adapters.aws import StepFunctionsWorkflows
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState
from nurture.runtime.react import Reactor
from nurture.runtime.sweep import Sweeper
from nurture.settings import SweepSettings, load

settings = load(SweepSettings)
logger = Logger()
tracer = Tracer()
_db = boto3.client("dynamodb")
sweeper = Sweeper(
    Reactor(
        contacts=DynamoContacts(_db, settings.contacts_table),
        activities=DynamoActivities(_db, settings.activities_table, settings.state_table),
        state=DynamoState(_db, settings.state_table),
        workflows=StepFunctionsWorkflows(boto3.client("stepfunctions")),
    )
)
STATUS_SUFFIX = ".status.json"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:  # a program's deploy report was written: select its segment
        entered: dict[str, int] = {}
        for record in event["Records"]:
            key = unquote_plus(record["s3"]["object"]["key"])
            program_id = key.rsplit("/", 1)[-1].removesuffix(STATUS_SUFFIX)
            report = sweeper.select(program_id)
            entered.update(report.entered)
        logger.info("segment selection", extra={"entered": entered})
        return {"entered": entered}
    report = sweeper.daily()
    logger.info("daily sweep", extra={"contacts": report.contacts, "entered": report.entered})
    return {"contacts": report.contacts, "entered": report.entered}
