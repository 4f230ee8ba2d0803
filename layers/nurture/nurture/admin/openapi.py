"""The admin API's OpenAPI 3.1 document, generated from the code the way the public one is
(`nurture.api.openapi`): each admin route (AdminFunction's powertools resolver) declares its
summary, answers and body by model name (`nurture.admin.routes`); `build` takes the
function's part, keeps the routes the template gives the AdminApi, and adds the models named
here. The document is committed (`openapi.json` beside this module, served at GET
/admin/openapi.json) and regenerated with `nurture openapi --write`; a test fails when the
committed copy is stale."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from nurture.admin.routes import DOCUMENT
from nurture.admin.search import SearchRequest
from nurture.admin.suppressions import LiftRequest
from nurture.admin.tasks import CompleteRequest
from nurture.api.openapi import _refs, _shape  # the public document's own helpers
from nurture.api.routes import REF

TITLE = "Nurture admin API"
VERSION = "1"
DESCRIPTION = (
    "The console's and operators' API: contacts (search, profile, timeline), programs"
    " (numbers, graph, pause/resume/archive), tasks, suppressions and personal data"
    " (export, erase). IAM-authorised: every request is SigV4-signed (service"
    " `execute-api`); locally the access key `local` with the secret `local`. Contact ids"
    " are the only personal references in URLs; every refusal is a 4xx with `message` and"
    " `field`."
)
SECURITY_SCHEMES: dict[str, Any] = {
    "sigv4": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS Signature Version 4 (`AWS4-HMAC-SHA256 Credential=...`), service"
        " `execute-api`, by credentials allowed execute-api:Invoke on the AdminApi.",
    }
}
_OPEN = ConfigDict(extra="allow")


class AdminRefusal(BaseModel):
    message: str
    field: str | None = None
    errors: list[dict[str, str]] | None = Field(
        default=None, description="every field at fault and why (the privacy routes)"
    )


class Forbidden(BaseModel):
    """API Gateway's own answer to a request the IAM authoriser refuses."""

    message: str


class ContactSummary(BaseModel):
    contact_id: str
    email: str | None
    name: str | None
    stage: str | None
    grade: str | None
    score: int
    predictive_score: int | None
    tags: list[str]
    account_id: str | None
    last_seen: str | None


class ContactList(BaseModel):
    contacts: list[ContactSummary]
    next_cursor: str | None = Field(description="send it back as `cursor` for the next page")


class Consent(BaseModel):
    channel: str
    topic: str
    status: str
    source: str
    wording: str
    at: str
    proof: dict[str, Any]


class Suppression(BaseModel):
    suppressed: bool
    reason: str | None
    at: str | None
    channels: dict[str, Any]


class Reason(BaseModel):
    model_config = _OPEN
    text: str
    points: int | float


class Predictive(BaseModel):
    score: int | float
    model_version: str | None
    factors: list[dict[str, Any]]


class Scores(BaseModel):
    score: int
    grade: str | None
    stage: str
    reasons: list[Reason]
    predictive: Predictive | None


class Run(BaseModel):
    program_id: str
    version: str | None
    execution_name: str
    status: str
    started_at: str
    current_step: str | None
    entries: int


class TaskView(BaseModel):
    task_id: str
    assignee: str
    status: str
    title: str
    created_at: str
    due: str
    contact_id: str | None
    program_id: str | None


class ContactProfile(BaseModel):
    contact: dict[str, Any]
    identities: list[str]
    consents: list[Consent]
    suppression: Suppression
    scores: Scores
    runs: list[Run]
    tasks: list[TaskView]


class TimelineActivity(BaseModel):
    at: str | None
    kind: str | None
    name: str | None
    properties: dict[str, Any]


class TimelinePage(BaseModel):
    activities: list[TimelineActivity]
    next_cursor: str | None


class RunCounts(BaseModel):
    running: int
    completed: int
    exited: int
    entered: int


class ProgramSummary(BaseModel):
    program_id: str
    name: str
    status: str = Field(description="active | paused | archived | not deployed")
    version: str | None
    last_edited: str | None
    counts: RunCounts


class ProgramList(BaseModel):
    programs: list[ProgramSummary]


class GraphNode(BaseModel):
    id: str
    kind: str
    label: str
    state_type: str
    count: int | None


class GraphEdge(BaseModel):
    from_: str = Field(alias="from")
    to: str
    label: str


class Graph(BaseModel):
    start: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class FunnelRow(BaseModel):
    step: str
    label: str
    entered: int
    sent: int
    opened: int
    clicked: int
    converted: int


class AbResult(BaseModel):
    step: str
    variants: list[dict[str, Any]]
    winner: str | None
    decided: bool
    confidence: float | None
    method: str


class ProgramDetail(BaseModel):
    program: dict[str, Any]
    period: dict[str, str]
    graph: Graph
    funnel: list[FunnelRow]
    ab: list[AbResult]
    versions: list[dict[str, Any]]
    recent: dict[str, list[dict[str, Any]]]


class ProgramStatus(BaseModel):
    model_config = _OPEN
    program_id: str
    status: Literal["active", "paused", "archived"]


class TaskList(BaseModel):
    tasks: list[TaskView]


class TaskDone(BaseModel):
    task_id: str
    status: Literal["done"]


class SuppressionEntry(BaseModel):
    suppression_id: str = Field(description="opaque; holds no address")
    channel: str
    address: str | None
    contact_id: str | None
    reason: str
    detail: str
    at: str
    source: str
    liftable: bool


class SuppressionList(BaseModel):
    suppressions: list[SuppressionEntry]
    next_cursor: str | None


class Lifted(BaseModel):
    lifted: Literal[True]
    suppression_id: str
    channel: str


class PersonalDataRequest(BaseModel):
    email: str | None = Field(default=None, max_length=320)
    contact_id: str | None = Field(default=None, max_length=320)


class PersonalDataExport(BaseModel):
    url: str = Field(description="a presigned link to the bundle, valid `expires_in` seconds")
    expires_in: int
    found: bool
    counts: dict[str, int]


class PersonalDataErase(BaseModel):
    erased: Literal[True]
    hashes: list[str]
    counts: dict[str, int]


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=220, description="imports/<name>.csv in the content bucket")
    mapping: dict[str, Any] = Field(description="the mapping (README, Importing contacts)")


class ImportStarted(BaseModel):
    import_id: str


class ImportStatus(BaseModel):
    import_id: str
    status: Literal["queued", "running", "done"]
    key: str
    rows_done: int
    totals: dict[str, int]
    report: str | None = Field(description="the rejected rows' CSV key, once done")
    started_at: str
    updated_at: str


class OpenApiDocument(BaseModel):
    model_config = _OPEN


class ContactSearch(SearchRequest):
    """What to look for (see the README's "Admin API" for which index each uses)."""


class TaskComplete(CompleteRequest):
    pass


class SuppressionLift(LiftRequest):
    pass


ANSWERS: tuple[type[BaseModel], ...] = (
    AdminRefusal,
    Forbidden,
    ContactList,
    ContactProfile,
    TimelinePage,
    ProgramList,
    ProgramDetail,
    ProgramStatus,
    TaskList,
    TaskDone,
    SuppressionList,
    Lifted,
    PersonalDataExport,
    PersonalDataErase,
    ImportStarted,
    ImportStatus,
    OpenApiDocument,
)
BODIES: tuple[type[BaseModel], ...] = (
    ContactSearch,
    TaskComplete,
    SuppressionLift,
    PersonalDataRequest,
    ImportRequest,
)
MODELS = {m.__name__: m for m in (*ANSWERS, *BODIES)}


def build(app: Any, routes: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The document for `routes` ((METHOD, path) as the template routes them to the admin
    function). Raises when a route is undocumented or names a model not here."""
    wanted = {(method.lower(), _shape(path)) for method, path in routes}
    part = app.get_openapi_schema(security_schemes=SECURITY_SCHEMES).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    paths: dict[str, dict[str, Any]] = {}
    for path, item in part.get("paths", {}).items():
        for method, operation in item.items():
            if (method, _shape(path)) in wanted:
                paths.setdefault(path, {})[method] = operation
    found = {(m, _shape(p)) for p, item in paths.items() for m in item}
    if missing := sorted(wanted - found):
        raise ValueError(f"admin routes the function does not document: {missing}")
    if unknown := sorted(_refs(paths) - set(MODELS)):
        raise ValueError(f"admin routes name models nurture.admin.openapi lacks: {unknown}")
    _, read = models_json_schema([(m, "validation") for m in BODIES], ref_template=REF)
    _, written = models_json_schema([(m, "serialization") for m in ANSWERS], ref_template=REF)
    schemas = {**read["$defs"], **written["$defs"]}
    used, todo = set(), _refs(paths)
    while todo:
        name = todo.pop()
        used.add(name)
        todo |= _refs(schemas[name]) - used
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"sigv4": []}],
        "paths": {p: dict(sorted(paths[p].items())) for p in sorted(paths)},
        "components": {
            "schemas": {n: schemas[n] for n in sorted(used)},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


__all__ = ["DOCUMENT", "build", "render"]
