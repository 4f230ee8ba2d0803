"""Ingest API: Segment's HTTP Tracking API (every call type, and the short routes, text/plain
bodies and body write keys analytics.js uses) and form submissions.

How SDKs read the answers decides what they do next, so the statuses are chosen for them:
a batch in which any event was stored is 200 (analytics-python retries anything else that is
not 2xx, and RudderStack's Python SDK anything that is not exactly 200, which would re-send
the stored events), with each event's fate in `results`; a request none of whose events can
ever be stored is 400 or 413 (every SDK drops those rather than retrying); a wrong write key
is 401. Error bodies carry `code` and `message`, which the Python SDKs read.
"""

from __future__ import annotations

import base64
import functools
import gc
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import TypeAdapter

from nurture import clock
from nurture.adapters.activities import DynamoActivities
from nurture.adapters.clients import client
from nurture.api import routes as doc
from nurture.secrets import secret, secret_json, secret_list
from nurture.settings import load
from nurture.settings.ingest import IngestSettings
from nurture.tracking import body as bodies
from nurture.tracking.calls import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    EventResult,
    Receipt,
)
from nurture.tracking.forms import FormCatalog, FormError, FormMisconfigured
from nurture.tracking.ingest import ingest_events, ingest_form
from nurture.tracking.timestamps import in_utc
from nurture.tracking.trust import Proofs, key_kind
from nurture.tracking.values import fits_budget

settings = load(IngestSettings)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
metrics = Metrics()
_origins = settings.origins()
# The same headers as the template's CorsConfiguration (API Gateway answers preflights);
# X-Retry-Count is the header analytics.js adds when it sends an event again.
CORS_HEADERS = ["Authorization", "Content-Type", "X-Retry-Count"]
app = APIGatewayHttpResolver(
    cors=CORSConfig(
        allow_origin=_origins[0] if _origins else "*",
        extra_origins=_origins[1:],
        allow_headers=CORS_HEADERS,
        max_age=600,
    )
)
SITE_START = datetime.combine(settings.site_start_date, datetime.min.time(), tzinfo=UTC)

# Each call type's route, and the short one analytics.js posts to (`${apiHost}/${type[0]}`,
# with apiHost `<host>/v1`); its batching mode posts to `${apiHost}/b`.
CALL_ROUTES = {
    "track": ("/v1/track", "/v1/t"),
    "identify": ("/v1/identify", "/v1/i"),
    "page": ("/v1/page", "/v1/p"),
    "screen": ("/v1/screen", "/v1/s"),
    "group": ("/v1/group", "/v1/g"),
    "alias": ("/v1/alias", "/v1/a"),
}
BATCH_ROUTES = ("/v1/batch", "/v1/b")


@functools.cache
def _activities() -> DynamoActivities:
    # Made on the first request, not at import. botocore's client-side check of each
    # request's parameters is off: DynamoDB checks every request itself, and on this path
    # (thousands of attribute values per batch) the check was a third of the CPU per event.
    dynamodb = client("dynamodb", parameter_validation=False)
    until = settings.legacy_message_markers_until
    return DynamoActivities(
        dynamodb,
        settings.activities_table,
        settings.state_table,
        legacy_markers_until=datetime.combine(until, datetime.min.time(), UTC) if until else None,
    )


@functools.cache
def _forms() -> FormCatalog:
    # Made on the first form post: page views and tracks (most calls) never need S3.
    from nurture.adapters.forms import S3Forms

    return FormCatalog(S3Forms(client("s3"), settings.content_bucket))


class Refusal(Exception):
    """The whole request is refused: an answer with a status, a code and a message."""

    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _raw_body(limit: int) -> bytes:
    raw = app.current_event.body or ""
    data = base64.b64decode(raw) if app.current_event.is_base64_encoded else raw.encode()
    try:
        return bodies.decode(data, app.current_event.headers.get("content-encoding"), limit)
    except bodies.BodyTooLarge as exc:
        raise Refusal(413, "payload_too_large", str(exc), limit_bytes=limit) from exc
    except bodies.UnsupportedEncoding as exc:
        raise Refusal(415, "unsupported_encoding", str(exc)) from exc
    except bodies.BadBody as exc:
        raise Refusal(400, "invalid_body", str(exc)) from exc


def _json_body(limit: int, data: bytes | None = None) -> Any:
    """The body as JSON whatever its Content-Type: analytics.js sends `text/plain`."""
    try:
        return bodies.parse_json(_raw_body(limit) if data is None else data)
    except bodies.BadBody as exc:
        raise Refusal(400, "invalid_body", str(exc)) from exc


def _json_document(limit: int) -> tuple[Any, bool]:
    """The body as JSON, and whether every value in it fits the value budget (a screen of
    the whole body at once: then no event's values need walking one by one)."""
    data = _raw_body(limit)
    return _json_body(limit, data), fits_budget(data)


def _write_key_from_header() -> str | None:
    header = app.current_event.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        # validate=True: only the base64 alphabet; a non-ASCII header is a ValueError too
        return base64.b64decode(value.strip(), validate=True).decode().split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise Refusal(
            401,
            "invalid_write_key",
            "the Authorization header is not HTTP Basic (base64 of UTF-8 '<write key>:')",
        ) from None


WRITE_KEYS = "write-keys"  # {"<key>": "public" | "secret"} (nurture.tracking.trust)
PROOFS = Proofs(
    identity_secret=lambda: secret("identity-verification-secret"),
    link_secrets=lambda: secret_list("link-signing-secrets"),
    now=lambda: int(clock.now().timestamp()),
)


def _authorise(body_key: Any = None) -> str:
    """The request's write key: the HTTP Basic user name, else `writeKey` in the body (what
    a beacon or a form can send), else the `writeKey` query parameter. Raises a 401."""
    key = _write_key_from_header() or (body_key if isinstance(body_key, str) else None)
    key = key or app.current_event.get_query_string_value("writeKey")
    if key_kind(secret_json(WRITE_KEYS), key) is None:
        raise Refusal(
            401,
            "invalid_write_key",
            "missing or unknown write key (send it as the HTTP Basic user name)",
        )
    return key


def _receipt(write_key: str, sent_at: Any = None) -> Receipt:
    """What every event of this request shares. `write_key` decides how far it is trusted."""
    parsed: datetime | None = None
    if isinstance(sent_at, str):
        try:  # an unreadable sentAt is no correction: the events' own times stand
            parsed = datetime.fromisoformat(sent_at.replace("Z", "+00:00"))
            parsed = in_utc(parsed) if parsed.tzinfo else None
        except ValueError:
            parsed = None
    return Receipt(
        received_at=clock.now(),
        sent_at=parsed if parsed and parsed.tzinfo else None,
        default_country_code=settings.default_country_code.lstrip("+"),
        site_start=SITE_START,
        stamp={"trust": key_kind(secret_json(WRITE_KEYS), write_key) or "public"},
        prove=PROOFS.stamp,
    )


def _answer(results: list[EventResult], route: str) -> Response:
    rejected = [r for r in results if r.status == "rejected"]
    for r in rejected:
        # Field names and reasons only: the values sent may be personal data.
        logger.warning(
            "event rejected",
            extra={"route": route, "index": r.index, "messageId": r.message_id, "errors": r.errors},
        )
    accepted = sum(r.status == "accepted" for r in results)
    metrics.add_metric("EventsAccepted", MetricUnit.Count, accepted)
    metrics.add_metric("EventsRejected", MetricUnit.Count, len(rejected))
    # One serialisation of all the results (a model_dump and json.dumps per event cost more
    # than storing the event).
    listed = _results_json().dump_json(results, by_alias=True, exclude_none=True).decode()
    if rejected and len(rejected) == len(results):
        # Nothing here can ever be stored: 400, which no SDK retries.
        message = "; ".join(
            f"event {r.index}: {e['field']} {e['reason']}" for r in rejected for e in r.errors
        )
        refusal = json.dumps({"code": "invalid_events", "message": message[:1000]})
        return Response(
            400, "application/json", f'{{"success":false,"results":{listed},{refusal[1:]}'
        )
    success = "false" if rejected else "true"
    return Response(200, "application/json", f'{{"success":{success},"results":{listed}}}')


@functools.cache
def _results_json() -> TypeAdapter[list[EventResult]]:
    return TypeAdapter(list[EventResult])  # built on the first answer, not at import


def _with_context(event: Any, shared: dict[str, Any]) -> Any:
    """The event with the batch's own `context` under its own (an event's wins). A
    non-object event or context is left as sent, for validation to reject it by name; an
    event whose context has nothing to gain is not copied."""
    if not isinstance(event, dict):
        return event
    sent = event.get("context")
    own = sent or {}
    if not isinstance(own, dict) or (own is sent and not shared):
        return event
    return {**event, "context": {**shared, **own}}


def _batch(route: str) -> Callable[[], Response]:
    def post_batch() -> Response[str]:
        body, within_budget = _json_document(MAX_BATCH_BYTES)
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            raise Refusal(
                400, "invalid_body", "body must be a JSON object with a 'batch' list of events"
            )
        key = _authorise(body.get("writeKey"))
        shared = body.get("context") if isinstance(body.get("context"), dict) else {}
        events = [_with_context(e, shared) for e in body["batch"]]
        try:
            results = ingest_events(
                events,
                _activities(),
                receipt=_receipt(key, body.get("sentAt")),
                within_budget=within_budget,
            )
        except ValueError as exc:  # too many events
            raise Refusal(400, "invalid_body", str(exc)) from exc
        return _answer(results, route)

    post_batch.__name__ = f"post_batch_{route.rsplit('/', 1)[-1]}"
    return post_batch


def _single(kind: str, route: str) -> Callable[[], Response]:
    def post_single() -> Response[str]:
        body, within_budget = _json_document(MAX_EVENT_BYTES)
        if not isinstance(body, dict):
            raise Refusal(400, "invalid_body", "body must be a JSON object (one event)")
        key = _authorise(body.get("writeKey"))
        results = ingest_events(
            [body],
            _activities(),
            default_type=kind,
            receipt=_receipt(key),
            within_budget=within_budget,
        )
        return _answer(results, route)

    post_single.__name__ = f"post_{kind}_{route.rsplit('/', 1)[-1]}"
    return post_single


# What the OpenAPI document (nurture.api.openapi) says of each route.
SEGMENT_MEDIA = ("application/json", "text/plain")
SEGMENT_NOTE = (
    "JSON, whatever the Content-Type says (analytics.js sends text/plain, which needs no"
    " CORS preflight); `Content-Encoding: gzip` is accepted."
)
SINGLE_BODY = f"One event; at most {MAX_EVENT_BYTES // 1024} KB. {SEGMENT_NOTE}"
BATCH_BODY = f"At most {MAX_BATCH_EVENTS} events and {MAX_BATCH_BYTES // 1024} KB. {SEGMENT_NOTE}"
_REFUSED = {
    401: doc.json_answer("missing or unknown write key (invalid_write_key)", "Refusal"),
    413: doc.json_answer("the body is too large (payload_too_large)", "Refusal"),
    415: doc.json_answer("a Content-Encoding other than gzip", "Refusal"),
}
_EVENT_ANSWERS = {
    200: doc.json_answer("stored; any rejected event is listed with reasons", "EventsAnswer"),
    400: doc.json_answer(
        "nothing can be stored: the body or every event is invalid", "EventsAnswer", "Refusal"
    ),
    **_REFUSED,
}
for _route in BATCH_ROUTES:
    app.post(
        _route,
        summary="Send several events of any type (Segment's batch)",
        description="The short route is the one analytics.js posts batches to.",
        tags=["tracking"],
        responses=_EVENT_ANSWERS,
        security=doc.WRITE_KEY,
        openapi_extensions=doc.request_body("Batch", SEGMENT_MEDIA, BATCH_BODY),
    )(_batch(_route))
for _kind, _routes in CALL_ROUTES.items():
    for _route in _routes:
        app.post(
            _route,
            summary=f"Send one {_kind} call (Segment's HTTP Tracking API)",
            description="The one-letter route is the one analytics.js posts to."
            if len(_route) == len("/v1/t")
            else None,
            tags=["tracking"],
            responses=_EVENT_ANSWERS,
            security=doc.WRITE_KEY,
            openapi_extensions=doc.request_body(f"{_kind.title()}Call", SEGMENT_MEDIA, SINGLE_BODY),
        )(_single(_kind, _route))


@app.post(
    "/v1/forms/<form_id>",
    summary="Submit a form (forms/<form_id>.yaml says its fields and what it grants)",
    tags=["forms"],
    responses={
        202: doc.json_answer("stored", "FormAccepted"),
        400: doc.json_answer(
            "the fields in error and why, or an unreadable body", "FormRefused", "Refusal"
        ),
        404: doc.json_answer("no such form (unknown_form)", "Refusal"),
        **_REFUSED,
    },
    security=doc.WRITE_KEY,
    openapi_extensions=doc.request_body(
        "FormSubmission",
        ("application/x-www-form-urlencoded", "application/json"),
        f"The form's fields; at most {MAX_EVENT_BYTES // 1024} KB.",
    ),
)
def post_form(form_id: str) -> Response[str]:
    content_type = app.current_event.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            body: Any = bodies.parse_form(_raw_body(MAX_EVENT_BYTES))
        except bodies.BadBody as exc:
            raise Refusal(400, "invalid_body", str(exc)) from exc
    else:
        body = _json_body(MAX_EVENT_BYTES)
    if not isinstance(body, dict):
        raise Refusal(400, "invalid_body", "body must be a JSON object or a url-encoded form")
    key = _authorise(body.pop("writeKey", None))
    try:  # an id that is no form costs no S3 read (nurture.tracking.forms.FormCatalog)
        form = _forms().get(form_id)
    except FormMisconfigured:
        logger.exception("form definition is invalid", extra={"form_id": form_id})
        raise Refusal(404, "unknown_form", f"form {form_id!r} is misconfigured") from None
    if form is None:
        raise Refusal(404, "unknown_form", f"unknown form {form_id!r}")
    try:
        activity = ingest_form(form, body, _activities(), receipt=_receipt(key))
    except FormError as exc:
        logger.warning("form rejected", extra={"form_id": form_id, "errors": exc.errors})
        metrics.add_metric("FormsRejected", MetricUnit.Count, 1)
        return Response(
            400,
            "application/json",
            json.dumps(
                {
                    "success": False,
                    "code": "invalid_form",
                    "message": "the form has errors",
                    "errors": exc.errors,
                }
            ),
        )
    metrics.add_metric("FormsAccepted", MetricUnit.Count, 1)
    return Response(
        202, "application/json", json.dumps({"success": True, "messageId": activity.message_id})
    )


@app.get(
    "/openapi.json",
    summary="This document: the public API's OpenAPI description",
    tags=["meta"],
    responses={200: {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
)
def openapi_document() -> Response[str]:
    metrics.add_metric("DocumentServed", MetricUnit.Count, 1)
    return Response(200, "application/json", doc.served(), headers={"Cache-Control": "max-age=300"})


@app.exception_handler(Refusal)
def refused(exc: Refusal) -> Response:
    # The code, not the message: a message may quote what was sent (a form id, a value).
    logger.warning("request refused", extra={"status": exc.status, "code": exc.code})
    body = {"success": False, "code": exc.code, "message": exc.message, **exc.extra}
    return Response(exc.status, "application/json", json.dumps(body))


@app.not_found
def not_found(_: Exception) -> Response:
    body = {"success": False, "code": "not_found", "message": "no such route"}
    return Response(404, "application/json", json.dumps(body))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = app.resolve(event, context)
    if int(response.get("statusCode", 200)) >= 400:
        # Refusals (bad key, bad body, unknown form) are worth counting, and counting them
        # means every request publishes a metric: no "no metrics to publish" warning.
        metrics.add_metric("RequestsRefused", MetricUnit.Count, 1)
    _settle()
    return response


_settled = False
# The collector's first generation runs after this many more container objects made than
# freed (Python's default: 700). A batch holds thousands at once (events, activities,
# botocore's request dicts), nearly all freed by reference counting: at 700 it set off four
# collections per 100-event batch (4.5-6.6 CPU us per event) that found some 50 objects of
# cyclic garbage; at 5,000 one collection in 40 batches finds the same garbage.
YOUNG_COLLECTION_THRESHOLD = 5000


def _settle() -> None:
    """After the first call: what the cold start and that call built (modules, botocore's
    service model and client, the pydantic validators; 100,000+ objects) lives as long as
    the container, so it is moved out of the cyclic collector's reach (`gc.freeze`). A
    batch allocates enough to set off collections; a full one walked all of it each time
    (about a sixth of a 100-event batch's CPU, measured with gc.callbacks); now only what
    calls create is walked, and less often (YOUNG_COLLECTION_THRESHOLD). Only in Lambda's
    runtime: a process that runs other things too (the local cloud runs every function
    inside the test process) keeps its collector as it is."""
    global _settled
    if not _settled:
        _settled = True
        if os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_"):
            gc.freeze()
            _, older, oldest = gc.get_threshold()
            gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
