"""Deploy programs (programs/) and scoring models (scoring/) uploaded to the bucket."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Tracer

from nurture.adapters.aws import S3Blobs
from nurture.adapters.clients import client
from nurture.adapters.schedules import EventBridgeResumes, ProgramMachines
from nurture.adapters.scoring import DynamoScoringModels
from nurture.programs.deploy import deploy_program
from nurture.settings import load
from nurture.settings.deploy import DeploySettings

if TYPE_CHECKING:
    from nurture.adapters.dynamodb import DynamoState

settings = load(DeploySettings)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
blobs = S3Blobs(client("s3"), settings.content_bucket)
machines = ProgramMachines(
    client("stepfunctions"),
    settings.program_role_arn,
    settings.program_arn_prefix,
    settings.program_log_group_arn,
)


@functools.cache
def _state() -> DynamoState:
    # Its module (the contact, account and activity stores, and their models) is imported by
    # the first deploy, which writes the program record, not by the cold start (#9).
    from nurture.adapters.dynamodb import DynamoState

    return DynamoState(client("dynamodb"), settings.state_table)


scoring_models = DynamoScoringModels(client("dynamodb"), settings.state_table)
# Archiving a program also cancels its pending resumes (long waits).
schedules = EventBridgeResumes(client("scheduler"), os.environ.get("SCHEDULE_GROUP", ""), "")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    results = []
    # The S3 notification read as the dict it is: powertools' data classes package imports
    # its ~40 event classes with it, 7% of `import boto3` at each cold start (#9).
    for record in event["Records"]:
        key = unquote_plus(record["s3"]["object"]["key"])
        if key.startswith("scoring/"):  # a scoring model, not a program
            # imported here: most deploys are programs, and a cold start need not load the
            # scoring models' definitions for them (#9)
            from nurture.scoring.deploy import deploy_model

            scored = deploy_model(key, blobs, scoring_models)
            logger.info(
                "scoring deploy",
                extra={"key": key, "ok": scored.ok, "problems": len(scored.problems)},
            )
            results.append({"key": key, "ok": scored.ok, "version": None})
            continue
        result = deploy_program(
            key, blobs, machines, _state(), settings.steps_function_arn, schedules=schedules
        )
        logger.info(
            "program deploy",
            extra={
                "key": key,
                "ok": result.ok,
                "version": result.version,
                "problems": len(result.problems),
            },
        )
        results.append({"key": key, "ok": result.ok, "version": result.version})
    return {"results": results}
