"""Ingest API: Segment-compatible tracking endpoints and form submissions."""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qsl

import boto3
import yaml
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    UnauthorizedError,
)
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from nurture.adapters.aws import S3Blobs
from nurture.adapters.dynamodb import DynamoActivities
from nurture.settings import IngestSettings, load
from nurture.tracking.events import MAX_BATCH_BYTES, MAX_EVENT_BYTES
from nurture.tracking.forms import FormDefinition, FormError
from nurture.tracking.ingest import ingest_events, ingest_form

settings = load(IngestSettings)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
_origins = settings.origins()
app = APIGatewayHttpResolver(
    cors=CORSConfig(
        allow_origin=_origins[0] if _origins else "*",
        extra_origins=_origins[1:],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
)
activities = DynamoActivities(
    boto3.client("dynamodb"), settings.activities_table, settings.state_table
)


@functools.cache
def _blobs() -> S3Blobs:
    # Created on the first form post: page views and tracks (most calls) never need S3.
    return S3Blobs(boto3.client("s3"), settings.content_bucket)


FORM_CACHE_SECONDS = 60
_forms: dict[str, tuple[float, FormDefinition | None]] = {}


class PayloadTooLarge(Exception):
    pass


def _body(limit: int) -> bytes:
    raw = app.current_event.body or ""
    data = base64.b64decode(raw) if app.current_event.is_base64_encoded else raw.encode()
    if len(data) > limit:
        raise PayloadTooLarge(f"body is {len(data)} bytes; the limit is {limit // 1024} KB")
    return data


def _json_body(limit: int) -> Any:
    try:
        return json.loads(_body(limit) or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"body is not valid JSON: {exc}") from exc


def _write_key_from_header() -> str | None:
    header = app.current_event.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(value).decode().split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError):
        return None


def _authorise(body_key: Any = None) -> None:
    key = _write_key_from_header() or (body_key if isinstance(body_key, str) else None)
    key = key or app.current_event.get_query_string_value("writeKey")
    if not key or not any(hmac.compare_digest(key, known) for known in settings.write_key_set()):
        raise UnauthorizedError(
            "missing or unknown write key (send it as the HTTP Basic user name)"
        )


def _answer(results: list[Any]) -> Response:
    rejected = sum(r.status == "rejected" for r in results)
    status = 200 if rejected == 0 else (400 if rejected == len(results) else 207)
    metrics.add_metric(
        "EventsAccepted", MetricUnit.Count, sum(r.status == "accepted" for r in results)
    )
    metrics.add_metric("EventsRejected", MetricUnit.Count, rejected)
    body = {
        "success": rejected == 0,
        "results": [r.model_dump(by_alias=True, exclude_none=True) for r in results],
    }
    return Response(status, "application/json", json.dumps(body))


@app.post("/v1/batch")
def post_batch() -> Response:
    _authorise()
    body = _json_body(MAX_BATCH_BYTES)
    if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
        raise BadRequestError("body must be a JSON object with a 'batch' list")
    shared_context = body.get("context") if isinstance(body.get("context"), dict) else {}
    # A non-object event or context is left as sent, for validation to reject it by name.
    events = [
        {**e, "context": {**shared_context, **(e.get("context") or {})}}
        if isinstance(e, dict) and isinstance(e.get("context") or {}, dict)
        else e
        for e in body["batch"]
    ]
    try:
        return _answer(ingest_events(events, activities))
    except ValueError as exc:
        raise BadRequestError(str(exc)) from exc


def _single(kind: str) -> Response:
    _authorise()
    body = _json_body(MAX_EVENT_BYTES)
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object")
    return _answer(ingest_events([body], activities, default_type=kind))


@app.post("/v1/track")
def post_track() -> Response:
    return _single("track")


@app.post("/v1/identify")
def post_identify() -> Response:
    return _single("identify")


@app.post("/v1/page")
def post_page() -> Response:
    return _single("page")


def _form_definition(form_id: str) -> FormDefinition | None:
    cached = _forms.get(form_id)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    source = _blobs().get_text(f"forms/{form_id}.yaml")
    form = FormDefinition.model_validate(yaml.safe_load(source)) if source else None
    _forms[form_id] = (time.monotonic() + FORM_CACHE_SECONDS, form)
    return form


@app.post("/v1/forms/<form_id>")
def post_form(form_id: str) -> Response:
    content_type = app.current_event.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        body: Any = dict(parse_qsl(_body(MAX_EVENT_BYTES).decode(errors="replace")))
    else:
        body = _json_body(MAX_EVENT_BYTES)
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object or a url-encoded form")
    _authorise(body.pop("writeKey", None))
    try:
        form = _form_definition(form_id)
    except (yaml.YAMLError, ValidationError):
        logger.exception("form definition is invalid", extra={"form_id": form_id})
        raise NotFoundError(f"form {form_id!r} is misconfigured") from None
    if form is None:
        raise NotFoundError(f"unknown form {form_id!r}")
    try:
        activity = ingest_form(form, body, activities)
    except FormError as exc:
        return Response(
            400,
            "application/json",
            json.dumps({"success": False, "message": "the form has errors", "errors": exc.errors}),
        )
    metrics.add_metric("FormsAccepted", MetricUnit.Count, 1)
    return Response(
        202, "application/json", json.dumps({"success": True, "messageId": activity.message_id})
    )


@app.exception_handler(PayloadTooLarge)
def too_large(exc: PayloadTooLarge) -> Response:
    return Response(413, "application/json", json.dumps({"success": False, "message": str(exc)}))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = app.resolve(event, context)
    if int(response.get("statusCode", 200)) >= 400:
        # Refusals (bad key, bad body, unknown form) are worth counting, and counting them
        # means every request publishes a metric: no "no metrics to publish" warning.
        metrics.add_metric("RequestsRefused", MetricUnit.Count, 1)
    return response
