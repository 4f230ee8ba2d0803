"""Signed links from messages: the preference page, one-click unsubscribe (RFC 8058) and
double opt-in confirmation. Public routes: the signed token is the only credential."""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from markupsafe import escape

from nurture.adapters.clients import client
from nurture.api import routes as doc
from nurture.delivery.config import load_policy
from nurture.delivery.preferences import (
    ONE_CLICK_BODY,
    PreferenceCenter,
    PreferenceError,
    browser_of,
    page,
)
from nurture.settings import Tables, load

if TYPE_CHECKING:
    from nurture.delivery.ports import DeliveryStore
    from nurture.ports import ActivityStore

MAX_BODY_BYTES = 16 * 1024
settings = load(Tables)
logger = Logger()
tracer = Tracer(auto_patch=False)  # botocore is patched before the first AWS call (clients)
app = APIGatewayHttpResolver()
_db = client("dynamodb")


class _OnFirstUse:
    """A store made when first used. The confirmation page (a double opt-in link's GET, the
    first thing a new subscriber opens) reads no contact and records nothing: its cold start
    imports neither store, nor the contact and activity models they build (#9)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = functools.cache(make)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_make":
            raise AttributeError(name)  # copy/pickle probes, and before __init__ ran
        return getattr(self._make(), name)


def _delivery() -> Any:
    from nurture.adapters.delivery import DynamoDelivery

    return DynamoDelivery(_db, settings.state_table, settings.contacts_table)


def _activities() -> Any:
    from nurture.adapters.dynamodb import DynamoActivities

    return DynamoActivities(_db, settings.activities_table, settings.state_table)


center = PreferenceCenter(
    store=cast("DeliveryStore", _OnFirstUse(_delivery)),
    activities=cast("ActivityStore", _OnFirstUse(_activities)),
    policy=load_policy(),
)
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


def _body() -> str:
    raw = app.current_event.body or ""
    data = base64.b64decode(raw) if app.current_event.is_base64_encoded else raw.encode()
    return data[:MAX_BODY_BYTES].decode("utf-8", errors="replace")


def _is_one_click(body: str) -> bool:
    content_type = (app.current_event.headers.get("content-type") or "").lower()
    if content_type.startswith("multipart/form-data"):
        return 'name="List-Unsubscribe"' in body and "One-Click" in body
    return (
        dict(parse_qsl(body)).get("List-Unsubscribe") == "One-Click"
        or body.strip() == ONE_CLICK_BODY
    )


# What the OpenAPI document (nurture.api.openapi) says: the signed token is the credential.
_LINK = {
    403: doc.html_answer("the link is not valid or has expired"),
    404: doc.html_answer("the contact no longer exists"),
}


@app.get(
    "/u/<token>",
    summary="The preference page of an email's unsubscribe link",
    tags=["links"],
    responses={200: doc.html_answer("the contact's choices, as a form"), **_LINK},
)
def view_preferences(token: str) -> Response[str]:
    return _html(200, center.view(token))


@app.post(
    "/u/<token>",
    summary="Save the preference page's choices, or unsubscribe in one click (RFC 8058)",
    tags=["links"],
    responses={
        200: doc.html_answer("saved, or unsubscribed"),
        400: doc.html_answer("a choice the page does not offer"),
        **_LINK,
    },
    openapi_extensions=doc.request_body(
        "PreferenceChoices",
        ("application/x-www-form-urlencoded", "multipart/form-data"),
        f"The page's form, at most {MAX_BODY_BYTES // 1024} KB read.",
    ),
)
def post_preferences(token: str) -> Response[str]:
    body = _body()
    if _is_one_click(body):
        center.one_click(token)
        logger.info("one-click unsubscribe")
        return _html(
            200,
            page("You are unsubscribed", "<p>You will get no more marketing email from us.</p>"),
        )
    form = dict(parse_qsl(body, keep_blank_values=True))
    return _html(200, center.submit(token, form))


@app.get(
    "/c/<token>",
    summary="What a double opt-in link confirms (a button: a GET changes nothing)",
    tags=["links"],
    responses={200: doc.html_answer("the confirmation button"), **_LINK},
)
def view_confirmation(token: str) -> Response[str]:
    return _html(200, center.confirm_view(token))


@app.post(
    "/c/<token>",
    summary="Confirm a double opt-in",
    tags=["links"],
    responses={200: doc.html_answer("confirmed"), **_LINK},
)
def post_confirmation(token: str) -> Response[str]:
    # analytics.js's cookie, when this API shares the site's domain: the browser that
    # followed the link proves it reads the mailbox (README, "Who may change a contact")
    html = center.confirm(token, browser_of(app.current_event.cookies))
    logger.info("double opt-in confirmed")
    return _html(200, html)


@app.exception_handler(PreferenceError)
def refuse(exc: PreferenceError) -> Response:
    logger.info("link refused", extra={"status": exc.status})  # never log the token
    return _html(exc.status, page("Sorry", f"<p>{escape(str(exc))}</p>"))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
