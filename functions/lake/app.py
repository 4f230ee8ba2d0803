"""Fill the activity lake: each ActivitiesTable stream batch becomes one gzip NDJSON object
per day under lake/activities/dt=.../ (nurture.reporting.lake). A second consumer of the
stream, next to the react function; a failed batch is retried whole (bisected), then its
location goes to the dead-letter queue."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from nurture.adapters.clients import client
from nurture.adapters.lake import S3Lake
from nurture.reporting.lake import write_batch
from nurture.settings import load
from nurture.settings.lake import LakeSettings
from nurture.tracking.events import Activity

settings = load(LakeSettings)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
metrics = Metrics()
lake = S3Lake(client("s3"), settings.content_bucket)


def _items(event: dict[str, Any]) -> list[tuple[str, str, Activity]]:
    items = []
    for record in event.get("Records", []):
        ddb = record.get("dynamodb", {})
        image = ddb.get("NewImage") or {}
        if record.get("eventName") != "INSERT" or "doc" not in image:
            continue
        activity = Activity.model_validate(json.loads(image["doc"]["S"]))
        key = f"{image['pk']['S']}#{image['sk']['S']}"
        items.append((str(ddb["SequenceNumber"]), key, activity))
    return items


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    items = _items(event)
    written = write_batch(lake, items)
    metrics.add_metric(name="LakeRows", unit=MetricUnit.Count, value=len(items))
    logger.info("lake batch written", extra={"rows": len(items), "objects": len(written)})
    return {"rows": len(items), "objects": written}
