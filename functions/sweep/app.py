"""Triggers no single activity fires: the daily sweep (dates and inactivity from the due
index, automation rules), the one-time selection or due-index backfill of a program when it
is deployed, and `{"backfill": true}`: the due index for an existing deployment, once."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Tracer

from nurture.adapters.aws import StepFunctionsWorkflows
from nurture.adapters.clients import client
from nurture.adapters.due import DynamoDue
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState
from nurture.runtime.due import DueIndex
from nurture.runtime.react import Reactor
from nurture.runtime.sweep import Sweeper
from nurture.settings import load
from nurture.settings.sweep import SweepSettings

settings = load(SweepSettings)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
_db = client("dynamodb")
_reactor = Reactor(
    contacts=DynamoContacts(_db, settings.contacts_table),
    activities=DynamoActivities(_db, settings.activities_table, settings.state_table),
    state=DynamoState(_db, settings.state_table),
    workflows=StepFunctionsWorkflows(client("stepfunctions")),
)
sweeper = Sweeper(_reactor, DueIndex(DynamoDue(_db, settings.state_table), _reactor))
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
    if event.get("backfill"):  # once, after upgrading a deployment that has contacts
        report = sweeper.backfill()
        logger.info("due index backfill", extra={"contacts": report.contacts})
        return {"contacts": report.contacts, "entered": report.entered}
    report = sweeper.daily()
    logger.info("daily sweep", extra={"contacts": report.contacts, "entered": report.entered})
    return {"contacts": report.contacts, "entered": report.entered}
