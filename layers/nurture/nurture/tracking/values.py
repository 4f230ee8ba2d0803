"""The budget every value a client sends must fit (event properties, traits and context;
form fields), so that nothing is accepted that a later reader cannot read.

An activity is stored once and then read by the react function on every retry of its
stream batch, by the lake function and by reports: a value that breaks any of them would
break them for good. So it is refused when it arrives, with its field and the reason:

- nesting: at most 32 levels, the field's own value being the first and a scalar counting
  as one, as DynamoDB counts them for nested attributes ("up to 32 levels deep",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-attributes:
  a map 31 maps deep holding a string is stored, one more map is refused); pydantic-core,
  which reads stored activities back, stops at about 200;
- numbers: what a DynamoDB number holds ("up to 38 digits of precision", magnitude
  1E-130 to 9.9999999999999999999999999999999999999E+125, same page): no 4,300-digit
  integer (Python refuses to print it), no `inf`/`nan` (`1e999` parses as `inf`), nothing a
  float cannot hold (the lake sums revenue as doubles);
- strings: valid Unicode (a lone UTF-16 surrogate cannot be encoded as UTF-8, so it could
  be neither stored nor logged);
- date-like strings (ISO 8601 as Python reads it): a moment that exists in UTC
  (`9999-12-31T23:59:59-23:59` is in year 10000 there), since programs compare, shift and
  schedule on dates found in traits.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

MAX_NESTING = 32  # DynamoDB: nested attributes up to 32 levels deep
MAX_NUMBER = 10**126  # DynamoDB: magnitude below 1E+126
MIN_NUMBER = 1e-130  # DynamoDB: magnitude at least 1E-130 (or zero)
MAX_INT_DIGITS = 38  # DynamoDB: 38 significant digits


class ValueProblem(ValueError):
    """A value outside the budget: `field` is its dotted path, `reason` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class _Found(Exception):
    def __init__(self, path: list[str], reason: str):
        self.path, self.reason = path, reason


def _number_problem(value: int | float) -> str | None:
    if isinstance(value, int):
        if abs(value) < 10**MAX_INT_DIGITS:
            return None
        if abs(value) >= MAX_NUMBER:
            return "is a number out of range (1E-130 to 1E+126)"
        if len(str(abs(value)).rstrip("0")) > MAX_INT_DIGITS:
            return f"is a number with more than {MAX_INT_DIGITS} significant digits"
        return None
    if not math.isfinite(value):
        return "is not a finite number"
    if value != 0 and not MIN_NUMBER <= abs(value) < float(MAX_NUMBER):  # repr: 1e+126
        return "is a number out of range (1E-130 to 1E+126)"
    return None


def _looks_like_a_date(value: str) -> bool:
    return len(value) >= 10 and value[4] == "-" and value[:4].isdigit() and value[7] == "-"


def string_problem(value: str) -> str | None:
    """Why a string cannot be accepted, or None."""
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return "holds a lone UTF-16 surrogate (not valid Unicode)"
    if _looks_like_a_date(value):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None  # not a date after all: any text is fine
        try:
            if moment.tzinfo is not None:
                moment.astimezone(UTC)
        except OverflowError:
            return "is a date-time that does not exist in UTC (out of range)"
    return None


_INT_OK = 10**MAX_INT_DIGITS  # an int of fewer digits needs no closer look


def _plain(text: str) -> bool:
    """A string `string_problem` has nothing to say about, at a glance: ASCII (so valid
    Unicode) and not shaped like a date (what `_looks_like_a_date` looks for first)."""
    return text.isascii() and (len(text) < 10 or text[4] != "-")


def _check(value: Any, depth: int) -> None:
    # The common shapes first (every value of every event goes through here): JSON's own
    # types, plain strings and small numbers checked inline; anything else as below.
    kind = type(value)
    if kind is dict and depth + 1 < MAX_NESTING:
        for key, item in value.items():
            leaf = type(item)
            if (
                type(key) is str
                and _plain(key)
                and (
                    (leaf is str and _plain(item))
                    or item is None
                    or leaf is bool
                    or (leaf is int and -_INT_OK < item < _INT_OK)
                )
            ):
                continue
            try:
                if isinstance(key, str) and (reason := string_problem(key)):
                    raise _Found([], f"has a key that {reason}")
                _check(item, depth + 1)
            except _Found as found:
                found.path.append(str(key).encode(errors="replace").decode())
                raise
        return
    if kind is str and depth < MAX_NESTING and _plain(value):
        return
    if depth >= MAX_NESTING:  # a scalar counts as a level too, as DynamoDB counts them
        raise _Found([], f"is nested more than {MAX_NESTING} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            try:
                if isinstance(key, str) and (reason := string_problem(key)):
                    raise _Found([], f"has a key that {reason}")
                _check(item, depth + 1)
            except _Found as found:
                found.path.append(str(key).encode(errors="replace").decode())
                raise
    elif isinstance(value, list):
        for index, item in enumerate(value):
            try:
                _check(item, depth + 1)
            except _Found as found:
                found.path.append(str(index))
                raise
    elif isinstance(value, str):
        if reason := string_problem(value):
            raise _Found([], reason)
    elif (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (reason := _number_problem(value))
    ):
        raise _Found([], reason)


def check_value(field: str, value: Any) -> None:
    """Raises ValueProblem, naming the path to the first value outside the budget. `value`
    itself counts as the first level (a `properties` object holding a list is two)."""
    try:
        _check(value, 0)
    except _Found as found:
        path = ".".join([field, *reversed(found.path)])
        if len(path) > 200:  # a path 32 levels deep is still readable, a long key is not
            path = path[:197] + "..."
        raise ValueProblem(path, found.reason) from None


def check_fields(fields: dict[Any, Any]) -> None:
    """`check_value` for each field of an object (an event's top level, each field named by
    its own name); the plain ones (most of an event's ids and names) without a call. (A
    screen of the object's JSON with regular expressions, to skip the walk, was slower.)"""
    for name, value in fields.items():
        leaf = type(value)
        if (
            (leaf is str and _plain(value))
            or value is None
            or leaf is bool
            or (leaf is int and -_INT_OK < value < _INT_OK)
        ):
            continue
        check_value(str(name), value)


# --- a screen of a whole document, so that the walk is needed only when it could find something

# The only years a UTC offset can carry out of range (a day either way), as a string starts.
_DATE_EDGES = (b'"0001-', b'"9999-')
_ESCAPED_DATE_CHARACTER = re.compile(rb"\\u00(?:3[0-9]|2[dD])")  # a digit or '-' as \uXXXX
# Outside strings, a digit before an exponent or 39 digits in a row: where any number out of
# DynamoDB's range (or with too many significant digits) shows itself in JSON.
_NUMBER_SIGN = re.compile(rb"[0-9](?:[eE]|[0-9]{38})")
# What the screen deletes first: all but quotes, brackets, separators and what numbers show.
_NOT_LOOKED_AT = bytes(range(256)).translate(None, b'"{}[],:0123456789eE')
_ALL_BUT_BRACKETS = bytes(range(256)).translate(None, b"{}[]")
_INNERMOST = re.compile(rb"\{\}|\[\]")


def fits_budget(document: bytes) -> bool:
    """True when no value anywhere in `document` can be outside the budget, so `check_fields`
    has nothing to find in any object it holds; False when one might be (then walk them).

    `document` is JSON that `nurture.tracking.body.parse_json` read without error (so no
    lone surrogate, NaN, Infinity or 4,300-digit integer). Read as bytes, with a few passes
    of C code over them (a whole batch at once) instead of a call per value:
    - nesting: the document is at most MAX_NESTING containers deep (strings left out), so no
      field of an object in it holds more than MAX_NESTING - 1 levels of containers;
    - numbers: none has an exponent or 39 digits in a row (only such numbers can be out of
      range: 1E+126 needs 127 digits written out, 1E-130 a hundred and thirty);
    - dates: no string starts with year 0001 or 9999 (nor has a digit or '-' escaped, which
      could spell one), the only years an offset can carry out of UTC's range.
    """
    if any(edge in document for edge in _DATE_EDGES):
        return False
    if b"\\" in document:
        if _ESCAPED_DATE_CHARACTER.search(document):
            return False
        # Escaped backslashes, then escaped quotes: every quote left begins or ends a string.
        document = document.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = document.translate(None, _NOT_LOOKED_AT)
    outside = b"".join(kept.split(b'"')[::2])  # without strings: numbers, brackets, true...
    if _NUMBER_SIGN.search(outside):
        return False
    brackets = outside.translate(None, _ALL_BUT_BRACKETS)
    for _ in range(MAX_NESTING):  # each pass takes the innermost level away
        brackets = _INNERMOST.sub(b"", brackets)
        if not brackets:
            return True
    return False
