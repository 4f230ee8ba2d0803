"""Sales routes. Public, the signed token the only credential: a salesperson's answers to a
hand-off (GET /sales/{token} shows, POST acts) and their tasks (/sales/tasks/{token}). Signed
by the CRM: POST /crm/events. IAM-authorised (admin): the tasks of any assignee."""

from __future__ import annotations

import base64
import functools
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from nurture import clock
from nurture.adapters.clients import client
from nurture.adapters.dynamodb import DynamoState
from nurture.adapters.sales import desk_from_env, webhook_secret
from nurture.api import routes as doc
from nurture.sales.pages import LinkRefused, SalesPages, page
from nurture.settings import Tables, load

if TYPE_CHECKING:
    from nurture.sales.desk import SalesDesk
    from nurture.sales.postback import Postbacks

MAX_BODY_BYTES = 16 * 1024
settings = load(Tables)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
app = APIGatewayHttpResolver()
_db = client("dynamodb")
_state = DynamoState(_db, settings.state_table)


# The desk (team file, CRM pusher, templates) and what uses it are made on the first call
# that needs them, not at import: a cold start pays for the modules a call uses (#9).
@functools.cache
def _desk() -> SalesDesk:
    desk: SalesDesk = desk_from_env(_db, client("s3"), client("sesv2"))
    return desk


@functools.cache
def _pages() -> SalesPages:
    return SalesPages(desk=_desk(), state=_state)


@functools.cache
def _postbacks() -> Postbacks:
    from nurture.sales.postback import Postbacks

    return Postbacks(desk=_desk())


# The token is in the URL: never send it on as a referrer, never cache or index the page.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}


def _html(status: int, body: str) -> Response:
    return Response(status, "text/html; charset=utf-8", body, headers=dict(HEADERS))


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(
        status, "application/json", json.dumps(body), headers={"Cache-Control": "no-store"}
    )


def _raw_body() -> bytes:
    raw = app.current_event.body or ""
    return base64.b64decode(raw) if app.current_event.is_base64_encoded else raw.encode()


def _form() -> dict[str, str]:
    data = _raw_body()
    if len(data) > MAX_BODY_BYTES:
        raise LinkRefused(413, "The form is too large.")
    return dict(parse_qsl(data.decode("utf-8", errors="replace"), keep_blank_values=True))


# What the OpenAPI document (nurture.api.openapi) says: the signed token is the credential.
_LINK = {
    400: doc.html_answer("a malformed or expired link, or a form field out of range"),
    403: doc.html_answer("a link not signed by us, or for someone else"),
    404: doc.html_answer("the lead or task no longer exists"),
}
_FORM = ("application/x-www-form-urlencoded",)


@app.get(
    "/sales/<token>",
    summary="What a salesperson's answer link (accept, recycle, disqualify) will do",
    tags=["sales"],
    responses={200: doc.html_answer("the answer form"), **_LINK},
)
def view_answer(token: str) -> Response[str]:
    return _html(200, _pages().answer_view(token))


@app.post(
    "/sales/<token>",
    summary="Answer a hand-off",
    tags=["sales"],
    responses={
        200: doc.html_answer("recorded, or already done"),
        409: doc.html_answer(
            "the lead was already answered, or the link is from an earlier hand-off"
        ),
        413: doc.html_answer("the form is too large"),
        **_LINK,
    },
    openapi_extensions=doc.request_body("SalesAnswerForm", _FORM, "The answer page's form."),
)
def post_answer(token: str) -> Response[str]:
    html = _pages().answer_post(token, _form())
    logger.info("sales answer recorded")
    return _html(200, html)


@app.get(
    "/sales/tasks/<token>",
    summary="A salesperson's open tasks",
    tags=["sales"],
    responses={200: doc.html_answer("the tasks"), **_LINK},
)
def view_tasks(token: str) -> Response[str]:
    return _html(200, _pages().tasks_view(token))


@app.post(
    "/sales/tasks/<token>",
    summary="Mark a task done",
    tags=["sales"],
    responses={
        200: doc.html_answer("done; the open tasks"),
        413: doc.html_answer("the form is too large"),
        **_LINK,
    },
    openapi_extensions=doc.request_body("TaskDone", _FORM, "Which task is done."),
)
def post_tasks(token: str) -> Response[str]:
    return _html(200, _pages().tasks_post(token, _form()))


@app.post(
    "/crm/events",
    summary="A CRM's signed post-back: deal won or lost, owner changed, activity logged",
    tags=["sales"],
    responses={
        200: doc.json_answer("applied (or already applied)", "CrmAnswer"),
        400: doc.json_answer("not a valid event: the fields and why", "CrmAnswer"),
        401: doc.json_answer("a missing, wrong or stale signature", "CrmAnswer"),
        404: doc.json_answer("no such contact", "CrmAnswer"),
        413: doc.json_answer("the body is too large", "CrmAnswer"),
        503: doc.json_answer("the CRM signing secret is not configured", "CrmAnswer"),
    },
    security=doc.CRM_SIGNATURE,
    openapi_extensions=doc.request_body("CrmEvent", ("application/json",), "One event."),
)
def crm_event() -> Response[str]:
    # The CRM's models and signing load on the first post-back, not at import (#9).
    from nurture.sales.crm import SIGNATURE_HEADER, PostbackError, parse_postback, verify_signature

    body = _raw_body()
    desk = _desk()
    secret = webhook_secret(desk.team.crm.secret)
    if not secret:
        return _json(503, {"error": "the CRM signing secret is not configured"})
    url = f"{desk.policy.public_base_url}{app.current_event.raw_path}"
    header = app.current_event.headers.get(SIGNATURE_HEADER.lower(), "")
    refused = verify_signature(secret, header, "POST", url, body, int(clock.now().timestamp()))
    if refused:
        logger.info("crm post-back refused", extra={"why": refused})
        return _json(401, {"error": refused})
    try:
        event = parse_postback(body)
        result = _postbacks().apply(event)
    except PostbackError as exc:
        return _json(exc.status, {"error": str(exc), "errors": exc.errors})
    logger.info("crm post-back applied", extra={"type": event.type, "status": result["status"]})
    return _json(200, result)


@app.get("/admin/tasks/<assignee>")
def admin_tasks(assignee: str) -> Response[str]:
    tasks = _state.tasks_for(assignee.lower())
    return _json(200, {"assignee": assignee.lower(), "tasks": [t.__dict__ for t in tasks]})


@app.post("/admin/tasks/<assignee>/<task_id>/done")
def admin_complete(assignee: str, task_id: str) -> Response[str]:
    task = _pages().complete(assignee.lower(), task_id, source="admin")
    return _json(200, {"task": task.__dict__})


@app.exception_handler(LinkRefused)
def refuse_link(exc: LinkRefused) -> Response:
    logger.info("sales link refused", extra={"status": exc.status})  # never log the token
    if app.current_event.raw_path.startswith("/admin/"):
        return _json(exc.status, {"error": str(exc)})
    return _html(exc.status, page("Sorry", f"<p>{_escape(str(exc))}</p>"))


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
