"""What a public route says of itself in the OpenAPI document, in the terms powertools takes
(`responses=`, `security=`, `openapi_extensions=`). Light on purpose: the functions import
it at every cold start, so it names models (`nurture.api.openapi.MODELS`) instead of
importing them; `nurture.api.openapi.build` resolves the names when the document is made
and fails on one it does not know."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).with_name("openapi.json")
REF = "#/components/schemas/{model}"

WRITE_KEY: list[dict[str, list[str]]] = [{"writeKey": []}]
CRM_SIGNATURE: list[dict[str, list[str]]] = [{"crmSignature": []}]
FORM_MEDIA = ("application/x-www-form-urlencoded",)


def _schema(models: tuple[str, ...]) -> dict[str, Any]:
    refs = [{"$ref": REF.format(model=m)} for m in models]
    return refs[0] if len(refs) == 1 else {"anyOf": refs}


def json_answer(description: str, *models: str) -> dict[str, Any]:
    """A JSON answer: one of `models` (names in nurture.api.openapi.MODELS)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": _schema(models)}},
    }


def html_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def request_body(model: str, media_types: Iterable[str], description: str) -> dict[str, Any]:
    """An operation's `requestBody`, for `openapi_extensions` (powertools puts it into the
    operation as given): the body a handler reads itself, as `model` in each media type."""
    schema = _schema((model,))
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media: {"schema": schema} for media in media_types},
        }
    }


def served() -> str:
    """The committed document, as GET /openapi.json serves it."""
    return DOCUMENT.read_text(encoding="utf-8")
