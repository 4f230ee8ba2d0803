"""Hourly: each salesperson's daily digest when it is their digest hour, and CRM deliveries
whose retry is due. One query per owner and one for the retries: no table scan."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer

from nurture.adapters.clients import client
from nurture.adapters.dynamodb import DynamoState
from nurture.adapters.sales import desk_from_env
from nurture.sales.digest import DigestSender
from nurture.settings import Tables, load

settings = load(Tables)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
_db = client("dynamodb")
desk = desk_from_env(_db, client("s3"), client("sesv2"))
digests = DigestSender(desk=desk, state=DynamoState(_db, settings.state_table))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sent = digests.run()
    retried = desk.crm.retry_due() if desk.crm is not None else {}
    summary = {
        "digests": sum(1 for s in sent.values() if s == "sent"),
        "empty": sum(1 for s in sent.values() if s == "empty"),
        "crm_retries": retried,
    }
    logger.info("sales run", extra=summary)
    return summary
