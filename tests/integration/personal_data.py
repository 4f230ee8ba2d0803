"""A check that no email address or phone number a test sent ends up in a log line.

`PersonalDataScan` watches one test:
- what the test sends: every local-cloud invocation's event (HTTP bodies decoded, stream
  records, SNS messages...) is searched for email addresses (by shape), E.164 numbers, and
  whatever is under a key naming an email or phone (raw forms such as "040 123 4567");
  addresses configured in the functions' environment (the sender, the sales inbox) are
  configuration, not contacts, and are left out;
- what is logged: every record of the product's loggers (`nurture`, `nurture.*`: powertools
  and module loggers alike) as its handler formats it, at every level (DEBUG is switched on
  for them during the test, so a debug line cannot hide a leak), tracebacks included; what
  functions print to stdout/stderr during an invocation; and each cloud's recorded function
  errors (what the Lambda runtime would log for a failed invocation).

`leaks()` lists each log line that contains a value the test sent. The suite fails a test
on any (tests/integration/conftest.py); test_personal_data_in_logs.py proves it catches one.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

from localcloud import LocalCloud

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
E164 = re.compile(r"\+[1-9]\d{7,14}")
PERSONAL_KEY = re.compile(r"e-?mail|phone|mobile|msisdn|destinationnumber|originationnumber", re.I)


def _ours(name: str) -> bool:
    return name == "nurture" or name.startswith("nurture.")


class _Tee(io.TextIOBase):
    def __init__(self, stream: Any, sink: list[str]):
        self._stream, self._sink = stream, sink

    def write(self, text: str) -> int:
        self._sink.append(text)
        return int(self._stream.write(text) or 0)

    def flush(self) -> None:
        self._stream.flush()


@dataclass
class Leak:
    where: str  # "log", "stdout/stderr", "function error"
    value: str
    line: str

    def __str__(self) -> str:
        masked = self.value[:2] + "***"
        at = max(self.line.lower().find(self.value.lower()), 0)
        around = self.line[max(at - 150, 0) : at].replace(self.value, masked)
        return f"{self.where}: {masked!r} in ...{around!r}"


@dataclass
class PersonalDataScan:
    sent: set[str] = field(default_factory=set)
    configured: set[str] = field(default_factory=set)
    logged: list[str] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)
    clouds: list[LocalCloud] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what the test sends ------------------------------------------------------------
    def note_sent(self, value: Any) -> None:
        """Collect the personal values in an event or body (any nesting, JSON in strings)."""
        found: set[str] = set()
        for text, personal in _texts(value):
            found |= set(EMAIL.findall(text)) | set(E164.findall(text))
            if personal and sum(c.isdigit() for c in text) >= 6 and "@" not in text:
                found |= _phone_forms(text)  # as typed ("040 123 4567") and normalised
        with self._lock:
            self.sent |= {v for v in found if len(v) >= 6}

    def note_cloud(self, cloud: LocalCloud) -> None:
        if any(c is cloud for c in self.clouds):
            return
        self.clouds.append(cloud)
        for fn in cloud.functions.values():
            for value in fn.env.values():
                self.configured |= set(EMAIL.findall(str(value)))

    # --- what is logged -----------------------------------------------------------------
    def note_logged(self, line: str) -> None:
        with self._lock:
            self.logged.append(line)

    def leaks(self) -> list[Leak]:
        values = {v for v in self.sent if v.lower() not in {c.lower() for c in self.configured}}
        patterns = {v: _pattern(v) for v in values}
        errors = [e for cloud in self.clouds for e in cloud.errors]
        found = []
        for where, lines in (
            ("log", self.logged),
            ("stdout/stderr", ["".join(self.printed)]),
            ("function error", errors),
        ):
            for line in lines:
                low = line.lower()
                for value in sorted(values):
                    if patterns[value].search(low):
                        found.append(Leak(where, value, line))
        return found

    def clear(self) -> None:
        """Forget what was logged so far (for a test that leaks on purpose)."""
        with self._lock:
            self.logged.clear()
            self.printed.clear()
            for cloud in self.clouds:
                cloud.errors.clear()

    # --- wiring -------------------------------------------------------------------------
    @contextmanager
    def watching(self) -> Iterator[PersonalDataScan]:
        scan = self
        original_format = logging.Handler.format
        original_enabled = logging.Logger.isEnabledFor
        original_invoke = LocalCloud.invoke

        def format_record(handler: logging.Handler, record: logging.LogRecord) -> str:
            text = original_format(handler, record)
            if _ours(record.name) and not getattr(record, "_scanned", False):
                record._scanned = True  # once per record, however many handlers format it
                scan.note_logged(text)
            return text

        def enabled(logger: logging.Logger, level: int) -> bool:
            return True if _ours(logger.name) else original_enabled(logger, level)

        def invoke(cloud: LocalCloud, function: str, event: Any) -> Any:
            scan.note_cloud(cloud)
            scan.note_sent(event)
            out: list[str] = []
            try:
                with redirect_stdout(_Tee(sys.stdout, out)), redirect_stderr(_Tee(sys.stderr, out)):
                    return original_invoke(cloud, function, event)
            finally:
                with scan._lock:
                    scan.printed += out

        logging.Handler.format = format_record  # type: ignore[method-assign]
        logging.Logger.isEnabledFor = enabled  # type: ignore[method-assign]
        LocalCloud.invoke = invoke  # type: ignore[method-assign]
        try:
            yield self
        finally:
            logging.Handler.format = original_format  # type: ignore[method-assign]
            logging.Logger.isEnabledFor = original_enabled  # type: ignore[method-assign]
            LocalCloud.invoke = original_invoke  # type: ignore[method-assign]


def _phone_forms(text: str) -> set[str]:
    digits = "".join(c for c in text if c.isdigit())
    forms = {text, digits}
    if text.startswith("+"):
        forms.add(f"+{digits}")
    elif text.startswith("00"):
        forms.add(f"+{digits[2:]}")
    return forms


def _pattern(value: str) -> re.Pattern[str]:
    """How a value can appear in a log line: as is, JSON-escaped, URL-encoded; never as a
    part of a longer number or name."""
    low = value.lower()
    forms = {low, json.dumps(low)[1:-1], quote(low, safe=""), quote(low, safe="@+")}
    either = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![\w.+-])(?:{either})(?![\w-])")


def _texts(value: Any, depth: int = 0, personal: bool = False) -> Iterator[tuple[str, bool]]:
    """Every string inside `value`, with JSON, base64 bodies and forms opened up; True for
    a value under a key that names an email or phone."""
    if depth > 12:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "body" and isinstance(item, str) and value.get("isBase64Encoded"):
                with suppress(ValueError):
                    item = base64.b64decode(item).decode("utf-8", "replace")
            named = isinstance(key, str) and bool(PERSONAL_KEY.search(key))
            yield from _texts(item, depth + 1, named)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item, depth + 1, personal)
    elif isinstance(value, bytes):
        yield from _texts(value.decode("utf-8", "replace"), depth + 1, personal)
    elif isinstance(value, str):
        yield value.strip(), personal
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and len(stripped) < 2_000_000:
            try:
                yield from _texts(json.loads(stripped), depth + 1)
                return
            except ValueError:
                pass
        if "=" in value and ("&" in value or "@" in value or "%40" in value):
            yield from _texts(dict(parse_qsl(value, keep_blank_values=True)), depth + 1)
