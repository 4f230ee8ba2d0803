"""AWS's own Amazon States Language validation, for the local cloud and the tests.

The checks are not ours: `infra/asl-validator/validate.js` runs `amazon-states-language-service`
(the language service AWS ships for its editors, pinned in that folder's package-lock.json) in
one long-lived Node.js process, so validating hundreds of definitions costs milliseconds each.
Answers come in the shape of Step Functions' ValidateStateMachineDefinition: `result` OK/FAIL
and `diagnostics` with severity, code, message and location (a path such as
/States/<state>/Next).
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

VALIDATOR_DIR = Path(__file__).resolve().parents[1] / "asl-validator"
# Step Functions' own limit on a definition (1 MB), checked before anything else.
MAX_DEFINITION_BYTES = 1_048_576
# ValidateStateMachineDefinition returns at most this many diagnostics by default.
DEFAULT_MAX_RESULTS = 100
MAX_STATE_NAME = 80

# The language service's messages, mapped to the codes ValidateStateMachineDefinition uses.
_CODES = (
    ('"Next" property must be the name of an existing state', "MISSING_TRANSITION_TARGET"),
    ('"Default" property must be the name of an existing state', "MISSING_TRANSITION_TARGET"),
    ('"StartAt" property must be the name of an existing state', "MISSING_TRANSITION_TARGET"),
    ("No terminal state", "MISSING_END_STATE"),
)


class ValidatorUnavailable(RuntimeError):
    """Node.js or the installed validator package is missing."""


def _code(diagnostic: dict[str, Any]) -> str:
    if diagnostic.get("source") == "json":
        return "INVALID_JSON_DESCRIPTION"
    for fragment, code in _CODES:
        if fragment in diagnostic["message"]:
            return code
    return "SCHEMA_VALIDATION_FAILED"


class AslValidator:
    """One `node validate.js --serve` process; requests are serialised (one at a time)."""

    def __init__(self, directory: Path = VALIDATOR_DIR):
        self._directory = directory
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._next_id = 0

    def _start(self) -> subprocess.Popen[str]:
        node = shutil.which("node")
        package = self._directory / "node_modules" / "amazon-states-language-service"
        if node is None or not package.is_dir():
            raise ValidatorUnavailable(
                "AWS's ASL validator is not installed: it needs Node.js 18+ and "
                f"`npm ci --prefix {self._directory}` (`make test` and `make demo` run it)"
            )
        return subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            [node, str(self._directory / "validate.js"), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )

    def diagnostics(self, definition: str) -> list[dict[str, Any]]:
        """Every diagnostic of `definition` (JSON text): severity, code, message, location,
        line and column."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            assert self._process.stdin and self._process.stdout
            self._next_id += 1
            request = {"id": self._next_id, "definition": definition}
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        if not line:
            raise ValidatorUnavailable("the ASL validator process ended unexpectedly")
        answer = json.loads(line)
        if "error" in answer or answer.get("id") != request["id"]:
            raise ValidatorUnavailable(f"the ASL validator failed: {answer.get('error', answer)}")
        found = answer["diagnostics"]
        syntax = [d for d in found if d.get("source") == "json"]
        if syntax:  # text that is not JSON is not checked further, as by AWS
            found = syntax
        return [
            {
                "severity": d["severity"],
                "code": _code(d),
                "message": d["message"],
                "location": d["location"],
                "line": d["line"],
                "column": d["column"],
            }
            for d in found
        ]

    def validate(
        self,
        definition: str | dict[str, Any],
        severity: str = "ERROR",
        max_results: int = DEFAULT_MAX_RESULTS,
    ) -> dict[str, Any]:
        """ValidateStateMachineDefinition's answer: {result, diagnostics, truncated}.
        `severity` ERROR returns only errors, WARNING errors and warnings (as AWS does)."""
        text = definition if isinstance(definition, str) else json.dumps(definition)
        if not text.strip():
            found = [_diagnostic("MISSING_DESCRIPTION", "The definition is empty.")]
        elif len(text.encode()) > MAX_DEFINITION_BYTES:
            found = [
                _diagnostic(
                    "SCHEMA_VALIDATION_FAILED",
                    f"The definition is {len(text.encode())} bytes; the limit is "
                    f"{MAX_DEFINITION_BYTES}.",
                )
            ]
        else:
            found = self.diagnostics(text) + _long_state_names(text)
        result = "FAIL" if any(d["severity"] == "ERROR" for d in found) else "OK"
        shown = [
            {k: d[k] for k in ("severity", "code", "message", "location")}
            for d in found
            if severity == "WARNING" or d["severity"] == "ERROR"
        ]
        limit = max_results or DEFAULT_MAX_RESULTS
        return {"result": result, "diagnostics": shown[:limit], "truncated": len(shown) > limit}

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                if self._process.stdin:
                    self._process.stdin.close()
                self._process.wait(timeout=10)
                self._process = None


def _diagnostic(code: str, message: str, location: str = "/") -> dict[str, Any]:
    return {"severity": "ERROR", "code": code, "message": message, "location": location}


def _long_state_names(text: str) -> list[dict[str, Any]]:
    """The documented 80-character limit on state names, which the language service leaves
    to the service."""
    try:
        data = json.loads(text)
    except ValueError:
        return []  # the language service reports the syntax
    found: list[dict[str, Any]] = []

    def walk(value: Any, at: str) -> None:
        if isinstance(value, dict):
            states = value.get("States")
            if isinstance(states, dict):
                for name in states:
                    if isinstance(name, str) and len(name) > MAX_STATE_NAME:
                        found.append(
                            _diagnostic(
                                "INVALID_STATE_NAME",
                                f"State names must be at most {MAX_STATE_NAME} characters.",
                                f"{at}/States/{name}",
                            )
                        )
            for key, child in value.items():
                walk(child, f"{at}/{key}")
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, f"{at}/{index}")

    walk(data, "")
    return found


def refusal_message(answer: dict[str, Any]) -> str:
    """The message CreateStateMachine / UpdateStateMachine give with InvalidDefinition."""
    details = ", ".join(
        f"{d['code']}: {d['message']} at {d['location']}"
        for d in answer["diagnostics"]
        if d["severity"] == "ERROR"
    )
    return f"Invalid State Machine Definition: '{details}'"


_shared: AslValidator | None = None
_shared_lock = threading.Lock()


def validator() -> AslValidator:
    """The process-wide validator (started on first use, stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = AslValidator()
            atexit.register(_shared.close)
        return _shared


def validate_definition(
    definition: str | dict[str, Any], severity: str = "ERROR", max_results: int = 0
) -> dict[str, Any]:
    """Validate one definition with the shared validator (the ValidateStateMachineDefinition
    answer)."""
    return validator().validate(definition, severity=severity, max_results=max_results)
