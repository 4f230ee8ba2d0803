"""The public HTTP API's OpenAPI 3.1 document, generated from the code.

Each function's routes (powertools Event Handler) declare their summary, description,
answers (pydantic models, `responses=`) and security; powertools writes each function's part
(`app.get_openapi_schema()`) and `build` joins the parts of the functions that serve the
public API into one document. The routes read their own bodies (JSON whatever the Content-Type
says, optionally gzip-encoded: what Segment's SDKs send), so powertools cannot infer them
from a handler parameter; a route states its body with `nurture.api.routes.request_body`,
which powertools puts into the operation as given (`openapi_extensions`). Routes name the
models of their bodies and answers (`nurture.api.routes`, light enough for every cold
start); `build` adds the models named here (`MODELS`) to the document's components.

The document is committed (`openapi.json` beside this module, served at GET /openapi.json
by the ingest function: `nurture.api.routes.served`) and regenerated with `nurture openapi --write`; a test fails when
the committed copy is stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model
from pydantic.json_schema import models_json_schema

from nurture.api.routes import DOCUMENT, REF
from nurture.sales.crm import Postback
from nurture.tracking.calls import (
    MAX_BATCH_EVENTS,
    AliasEvent,
    EventResult,
    GroupEvent,
    IdentifyEvent,
    PageEvent,
    ScreenEvent,
    TrackEvent,
)

TITLE = "Nurture public API"
VERSION = "1"
DESCRIPTION = (
    "What a deployed Nurture stack serves in public: Segment's HTTP Tracking API (every call"
    " type, the short routes analytics.js posts to, batches), form submissions, and the"
    " signed links in messages (preference page, one-click unsubscribe, double opt-in"
    " confirmation, a salesperson's answers and tasks), and the CRM's signed post-backs."
    " Every refusal is a 4xx with a reason."
)

# --- security ------------------------------------------------------------------------------
SECURITY_SCHEMES: dict[str, Any] = {
    "writeKey": {
        "type": "http",
        "scheme": "basic",
        "description": "The write key as the HTTP Basic user name, with an empty password"
        " (what Segment's SDKs send). A request that cannot set headers (a beacon, an HTML"
        " form) may send it as `writeKey` in the body or the query string instead. Public"
        " keys (web pages) add activity and new contacts; secret keys (your servers) may"
        " change known contacts.",
    },
    "crmSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Nurture-Signature",
        "description": "The CRM's HMAC-SHA256 signature over method, URL, timestamp and body"
        " (see the README, 'CRM post-backs').",
    },
}


# --- answers -------------------------------------------------------------------------------
class Refusal(BaseModel):
    """The whole request is refused: `code` says what, `message` why (Segment's SDKs read
    both)."""

    success: Literal[False]
    code: str = Field(examples=["invalid_body", "invalid_write_key", "payload_too_large"])
    message: str
    limit_bytes: int | None = Field(default=None, description="with payload_too_large")


class EventsAnswer(BaseModel):
    """Each event's fate. 200 when any event was stored (the others are listed as rejected,
    with reasons); 400 when none can ever be stored."""

    success: bool = Field(description="false when any event was rejected")
    results: list[EventResult]
    code: str | None = Field(default=None, description="invalid_events when every one failed")
    message: str | None = None


class FieldProblem(BaseModel):
    field: str
    reason: str


class FormAccepted(BaseModel):
    success: Literal[True]
    message_id: str = Field(alias="messageId", description="the stored submission's id")


class FormRefused(BaseModel):
    """The submission is refused: each field in error, and why."""

    success: Literal[False]
    code: Literal["invalid_form"]
    message: str
    errors: list[FieldProblem]


class CrmAnswer(BaseModel):
    """What the post-back did (`status`), or why it was refused (`error`, `errors`)."""

    model_config = ConfigDict(extra="allow")

    status: str | None = None
    error: str | None = None
    errors: list[FieldProblem] | None = None


# --- request bodies ------------------------------------------------------------------------
def _has_identity(schema: dict[str, Any]) -> None:
    # The events' model validator: an event needs an anonymousId or a userId (non-empty).
    schema["anyOf"] = [
        {"required": [key], "properties": {key: {"type": "string", "minLength": 1}}}
        for key in ("anonymousId", "userId")
    ]


def _single_call(schema: dict[str, Any]) -> None:
    # On a call's own route the type may be left out: the route says it.
    _has_identity(schema)
    schema["required"] = [r for r in schema.get("required", []) if r != "type"]
    schema["properties"]["writeKey"] = {
        "type": "string",
        "description": "the write key, for requests that cannot send it as HTTP Basic",
    }


class _InBatch(BaseModel):
    model_config = ConfigDict(json_schema_extra=_has_identity)


class _Single(BaseModel):
    model_config = ConfigDict(json_schema_extra=_single_call)


EVENTS: dict[str, type[BaseModel]] = {
    "track": TrackEvent,
    "identify": IdentifyEvent,
    "page": PageEvent,
    "screen": ScreenEvent,
    "group": GroupEvent,
    "alias": AliasEvent,
}
BATCH_EVENTS = {
    kind: create_model(f"{kind.title()}InBatch", __base__=(model, _InBatch), __doc__=model.__doc__)
    for kind, model in EVENTS.items()
}
CALLS = {
    kind: create_model(f"{kind.title()}Call", __base__=(model, _Single), __doc__=model.__doc__)
    for kind, model in EVENTS.items()
}


class Batch(BaseModel):
    """Several events of any type. `context` is shared by every event (an event's own wins)."""

    batch: list[Any] = Field(
        max_length=MAX_BATCH_EVENTS,
        json_schema_extra={
            "items": {
                "oneOf": [{"$ref": REF.format(model=m.__name__)} for m in BATCH_EVENTS.values()],
                "discriminator": {"propertyName": "type"},
            }
        },
    )
    context: dict[str, Any] | None = None
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    write_key: str | None = Field(
        default=None,
        alias="writeKey",
        description="the write key, for requests that cannot send it as HTTP Basic",
    )


class FormSubmission(RootModel[dict[str, str | bool | int]]):
    """A form's fields, by the names its definition (forms/<id>.yaml) gives them, and
    optionally `writeKey`. Unknown fields are ignored; missing or invalid ones are listed."""


class PreferenceChoices(BaseModel):
    """The preference page's form: `shown` lists the choices the page offered (comma
    separated), each ticked one is `<key>=on`; `action=unsubscribe_all` leaves all
    marketing. RFC 8058's one-click body is `List-Unsubscribe=One-Click`."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"additionalProperties": {"const": "on"}}
    )

    action: Literal["save", "unsubscribe_all"] | None = None
    shown: str | None = None
    list_unsubscribe: Literal["One-Click"] | None = Field(default=None, alias="List-Unsubscribe")


class SalesAnswerForm(BaseModel):
    """The answer page's form."""

    reason: str | None = Field(default=None, max_length=500)
    days: str | None = Field(
        default=None, pattern=r"^[0-9]+$", description="recycle: 1 to 3650 days"
    )


class TaskDone(BaseModel):
    """Which task is done (a link for one task says it already)."""

    task_id: str | None = None


class CrmEvent(RootModel[Postback]):
    """A CRM post-back: a deal won or lost, an owner changed, an activity logged."""


# Every model a route may name (nurture.api.routes), by name: answers as they are written
# (EventResult's messageId), bodies as they are read.
ANSWERS: tuple[type[BaseModel], ...] = (Refusal, EventsAnswer, FormAccepted, FormRefused, CrmAnswer)
BODIES: tuple[type[BaseModel], ...] = (
    Batch,
    FormSubmission,
    PreferenceChoices,
    SalesAnswerForm,
    TaskDone,
    CrmEvent,
    *CALLS.values(),
    *BATCH_EVENTS.values(),
)
MODELS = {m.__name__: m for m in (*ANSWERS, *BODIES)}


# --- the document --------------------------------------------------------------------------
class Resolver(Protocol):
    def get_openapi_schema(self, **kwargs: Any) -> Any: ...


def _shape(path: str) -> str:
    """A path with its parameter names left out (`/u/{}`): the template names them its way."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {str(node["$ref"]).rsplit("/", 1)[-1]} if "$ref" in node else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def build(apps: Iterable[Resolver], routes: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """One document for `routes` ((METHOD, path) as the template routes them) from the
    functions' resolvers. Raises when a route is served by none of them."""
    wanted = {(method.lower(), _shape(path)) for method, path in routes}
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for app in apps:
        part = app.get_openapi_schema(security_schemes=SECURITY_SCHEMES).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        for path, item in part.get("paths", {}).items():
            for method, operation in item.items():
                if (method, _shape(path)) in wanted:
                    paths.setdefault(path, {})[method] = operation
        schemas.update(part.get("components", {}).get("schemas", {}))
    found = {(m, _shape(p)) for p, item in paths.items() for m in item}
    if missing := sorted(wanted - found):
        raise ValueError(f"routes no function documents: {missing}")
    if unknown := sorted(_refs(paths) - set(MODELS)):
        raise ValueError(f"routes name models nurture.api.openapi.MODELS does not have: {unknown}")
    _, read = models_json_schema([(m, "validation") for m in BODIES], ref_template=REF)
    _, written = models_json_schema([(m, "serialization") for m in ANSWERS], ref_template=REF)
    for name, schema in [*read["$defs"].items(), *written["$defs"].items()]:
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are named {name}")
        schemas[name] = schema
    # Only what the operations use (powertools adds its validation errors to every part).
    used, todo = set(), _refs(paths)
    while todo:
        name = todo.pop()
        used.add(name)
        todo |= _refs(schemas[name]) - used
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": {p: dict(sorted(paths[p].items())) for p in sorted(paths)},
        "components": {
            "schemas": {n: schemas[n] for n in sorted(used)},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def served() -> str:
    return DOCUMENT.read_text(encoding="utf-8")
