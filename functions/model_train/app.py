"""Weekly predictive training (and `nurture model train` on AWS): export the fit-only
profile snapshot, train on the lake with guardrails (nurture.predictive.service), keep the
version and its card in the bucket, then score the contacts with the live model.

A container image (Dockerfile): scikit-learn, SciPy and NumPy alone are 254 MB unzipped,
over Lambda's 250 MB for a function and its layers; the image limit is 10 GB."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from nurture import clock
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts
from nurture.adapters.lake import S3Lake
from nurture.adapters.predictive import S3ModelStore
from nurture.adapters.scoring import DynamoScoringModels
from nurture.predictive import service
from nurture.predictive.lake import PROFILES_PREFIX, open_lake, profile_snapshot
from nurture.predictive.registry import Registry
from nurture.predictive.scores import store_score
from nurture.predictive.train import NotEnoughData
from nurture.reporting.duckdb_engine import copy_lake
from nurture.reporting.lake import encode
from nurture.scoring.model import ScoringModel

logger = Logger()
_db = boto3.client("dynamodb")
_s3 = boto3.client("s3")
BUCKET = os.environ.get("CONTENT_BUCKET", "")


def _handmade() -> ScoringModel | None:
    models = DynamoScoringModels(_db, os.environ["STATE_TABLE"]).live_models()
    parsed = [ScoringModel.model_validate(m) for m in models]
    return next((m for m in parsed if m.primary), parsed[0] if parsed else None)


def _export_profiles(contacts: DynamoContacts, lake: S3Lake) -> int:
    people = list(contacts.scan())
    accounts: dict[str, Any] = {}
    for c in people:
        account_id = c.account_id or c.fields.get("account_id")
        if account_id and account_id not in accounts:
            found = contacts.get_account(str(account_id))
            accounts[account_id] = found.model_dump(mode="json") if found else None
    rows, companies = profile_snapshot(people, {k: v for k, v in accounts.items() if v})
    lake.put(PROFILES_PREFIX + "contacts.json.gz", encode(rows))
    lake.put(PROFILES_PREFIX + "accounts.json.gz", encode(companies))
    return len(rows)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    contacts = DynamoContacts(_db, os.environ["CONTACTS_TABLE"])
    activities = DynamoActivities(_db, os.environ["ACTIVITIES_TABLE"], os.environ["STATE_TABLE"])
    lake = S3Lake(_s3, BUCKET)
    registry = Registry(S3ModelStore(_s3, BUCKET))
    exported = _export_profiles(contacts, lake)
    root = Path(tempfile.mkdtemp(prefix="lake-"))
    copy_lake(lake, root)
    for key in lake.list(PROFILES_PREFIX):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(lake.get(key))
    engine = open_lake(root)
    now = clock.now()
    as_of = now.strftime("%Y-%m-%d %H:%M:%S")
    summary: dict[str, Any] = {"profiles": exported}
    if event.get("train") is False:  # the daily re-score with the live model only
        return {**summary, **_score(engine, registry, contacts, activities, as_of)}
    try:
        result = service.train_model(
            service.lake_data(engine, as_of), registry, _handmade(), as_of, clock.iso(now)
        )
        summary.update(version=result.version, live=result.live, decision=result.reason)
    except NotEnoughData as exc:
        summary["refused"] = str(exc)
    logger.info("trained", extra={k: v for k, v in summary.items() if k != "profiles"})
    if event.get("score") is False:
        return summary
    return {**summary, **_score(engine, registry, contacts, activities, as_of)}


def _score(
    engine: Any,
    registry: Registry,
    contacts: DynamoContacts,
    activities: DynamoActivities,
    as_of: str,
) -> dict[str, Any]:
    """Score every contact with enough history with the live model: one conditional write
    per contact, a `contact.predictive_score_changed` when the number moved."""
    from nurture.predictive.lake import feature_rows

    model = registry.live()
    if model is None:
        return {"scored": 0}
    run = f"v{model.version}-{as_of}"
    scored = service.score_rows(model, feature_rows(engine, as_of, live=True))
    changed = sum(
        store_score(contacts, activities, contact_id, s, model.version, run)
        for contact_id, s in scored
    )
    return {"scored": len(scored), "scores_changed": changed, "model": model.version}
