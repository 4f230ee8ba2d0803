"""The admin API's refusals: a status, a message and the field at fault."""

from __future__ import annotations

import base64
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class AdminError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        errors: list[dict[str, str]] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.errors = errors  # every field at fault, where a route lists them

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "field": self.field}
        if self.errors:
            body["errors"] = self.errors
        return body


def parse(model: type[M], data: Any) -> M:
    """`data` as `model`, or a 400 naming the first field at fault and why."""
    if not isinstance(data, dict):
        raise AdminError(400, "the body must be a JSON object", "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise AdminError(400, f"{field}: {first['msg']}", field) from None


def encode_cursor(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, field: str = "cursor") -> dict[str, Any]:
    """A cursor this API gave out, or a 400."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise AdminError(400, "not a cursor this API gave out", field) from None
    if not isinstance(value, dict):
        raise AdminError(400, "not a cursor this API gave out", field)
    return value
