"""What each admin route says of itself in the admin API's OpenAPI document (summary,
answers, body, security), in the terms powertools takes; and the checks of path
parameters. Light on purpose (the admin function imports it at its cold start): models are
named, and `nurture.admin.openapi` resolves the names when the document is made."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from nurture.admin.errors import AdminError
from nurture.api.routes import json_answer, request_body

DOCUMENT = Path(__file__).with_name("openapi.json")
SIGV4: list[dict[str, list[str]]] = [{"sigv4": []}]
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_PROGRAM = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_JSON = ("application/json",)


def check_id(value: str, field: str) -> None:
    if not _ID.match(value):
        raise AdminError(400, f"{field} is not an id", field)


def check_program(value: str) -> None:
    if not _PROGRAM.match(value):
        raise AdminError(400, "program_id is not a program id", "program_id")


def int_param(value: str | None, field: str, default: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,4}", value):
        raise AdminError(400, f"{field} must be a whole number", field)
    return int(value)


def served() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


def _refused(description: str) -> dict[str, Any]:
    return json_answer(description, "AdminRefusal")


_FORBIDDEN = {403: json_answer("not signed with SigV4 by allowed credentials", "Forbidden")}


def route(
    summary: str,
    answer: str,
    refusals: dict[int, str],
    body: tuple[str, str] | None = None,
    path: tuple[str, ...] = (),
    query: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of one powertools route. With `query` (name -> schema) the
    operation's parameters are stated here, the path's (`path`, strings) included:
    powertools takes `parameters` from openapi_extensions as given."""
    responses = {
        200: json_answer("done", answer),
        **{status: _refused(why) for status, why in refusals.items()},
        **_FORBIDDEN,
    }
    kwargs: dict[str, Any] = {
        "summary": summary,
        "tags": ["admin"],
        "responses": responses,
        "security": SIGV4,
    }
    extensions: dict[str, Any] = {}
    if body is not None:
        extensions.update(request_body(body[0], _JSON, body[1]))
    if query is not None:
        extensions["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in path
        ] + [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in query.items()
        ]
    if extensions:
        kwargs["openapi_extensions"] = extensions
    return kwargs


_CURSOR = {"type": "string", "maxLength": 4000, "description": "next_cursor of the page before"}


_BODY = "the body is not JSON, or a field is wrong (named in `field`)"
SEARCH = route(
    "Search contacts (email, name prefix, stage, grade, score range, tag, account)",
    "ContactList",
    {400: _BODY},
    ("ContactSearch", "What to look for; every criterion given must hold."),
)
CONTACT = route(
    "One contact: profile, consents with proof, suppression, scores, runs, tasks",
    "ContactProfile",
    {400: "not a contact id", 404: "no such contact"},
)
TIMELINE = route(
    "A contact's activity, newest first, a page at a time",
    "TimelinePage",
    {400: "not a contact id, or a bad cursor or limit", 404: "no such contact"},
    path=("contact_id",),
    query={"cursor": _CURSOR, "limit": {"type": "integer", "minimum": 1, "maximum": 100}},
)
PROGRAMS = route("Programs with status, version and run counts", "ProgramList", {})
PROGRAM = route(
    "One program: graph with counts, funnel, A/B, versions, recent entries and exits",
    "ProgramDetail",
    {400: "not a program id, or a bad since/until", 404: "no such program"},
    path=("program_id",),
    query={
        "since": {"type": "string", "format": "date", "description": "default: 30 days ago"},
        "until": {"type": "string", "format": "date", "description": "default: today"},
    },
)
CONTROL = {
    action: route(
        f"{action.title()} a program ({what})",
        "ProgramStatus",
        {400: "not a program id", 404: "no such program"},
    )
    for action, what in (
        ("pause", "no new entries; running contacts go on"),
        ("resume", "new entries again"),
        ("archive", "no entries; running contacts are stopped"),
    )
}
TASKS = route(
    "Tasks by assignee (default: the sales team) and status",
    "TaskList",
    {400: "a bad assignee or status"},
    query={
        "assignee": {"type": "string", "maxLength": 320, "description": "default: the team"},
        "status": {"type": "string", "enum": ["open", "done"]},
    },
)
COMPLETE_TASK = route(
    "Mark a task done",
    "TaskDone",
    {400: _BODY, 404: "no such task for this assignee"},
    ("TaskComplete", "Whose task it is."),
)
SUPPRESSIONS = route(
    "Suppressed addresses of a channel, newest first",
    "SuppressionList",
    {400: "a bad channel or cursor"},
    query={"channel": {"type": "string", "enum": ["email", "sms"]}, "cursor": _CURSOR},
)
LIFT = route(
    "Lift a suppression (a reason is required; a complaint needs override_complaint)",
    "Lifted",
    {
        400: _BODY,
        404: "no such suppression",
        409: "a complaint without override, or an erased person's entry",
    },
    ("SuppressionLift", "Which suppression, and why it is lifted."),
)
EXPORT = route(
    "Export everything held about a person (a 15-minute signed link)",
    "PersonalDataExport",
    {400: _BODY},
    ("PersonalDataRequest", "The person: email or contact_id (never in the URL)."),
)
ERASE = route(
    "Erase a person everywhere (a hashed suppression and an audit record stay)",
    "PersonalDataErase",
    {400: _BODY},
    ("PersonalDataRequest", "The person: email or contact_id (never in the URL)."),
)
IMPORT_START = route(
    "Import contacts from a CSV file in the bucket (202: runs in parts; poll its status)",
    "ImportStarted",
    {400: "the key, the mapping (field named) or the file's header is wrong"},
    ("ImportRequest", "The file's key under imports/ and the mapping (README, Importing)."),
)
IMPORT_START["responses"] = {202: IMPORT_START["responses"].pop(200), **IMPORT_START["responses"]}
IMPORT_STATUS = route(
    "An import's progress, totals and the key of its rejected-rows report",
    "ImportStatus",
    {400: "not an import id", 404: "no such import"},
)
DOCUMENT_ROUTE = route("This API's OpenAPI document", "OpenApiDocument", {})
