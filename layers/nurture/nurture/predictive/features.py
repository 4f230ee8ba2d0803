"""Features and outcomes: SQL over the lake (sql/features.sql), then plain-Python encoding.

The query gives one row per known contact, AS OF its cutoff: behaviour counts and recency
from the activity lake (only rows before the cutoff) and fit fields from the profile
snapshot. `encode` turns a row into the model's named inputs; training (scikit-learn) and
scoring (plain Python, `nurture.predictive.model`) both use it, so they cannot disagree.

Derived (what the model may learn from):
  behaviour, in the `window_days` before the cutoff: pricing views in the last 14 days and
  before, solution pages, case studies, blog posts, careers page, docs, other pages (page
  categories by URL path), guide downloads, event registrations, demo requests, other tracked
  events, email opens (newsletter and other), email clicks, days with a visit and pages per
  such day (session depth), days since the last visit and since the last pricing view.
  fit: seniority from the job title, industry, company size band, country (the account's,
  else the contact's), personal vs company email domain.
Excluded: names, email addresses, phone numbers, postal addresses, cities, birthdays, free
  text and any custom field (sensitive or identifying; `profiles` holds none of them); the
  hand-made score, grade and stage (they would teach the model the old guess); anything
  after the cutoff.
"""

from __future__ import annotations

import math
import re
from functools import cache
from importlib import resources
from typing import Any, Literal

import sqlglot
from sqlglot import exp

Dialect = Literal["duckdb", "athena"]
# A contact's cutoff is this long after they became known (training); counts look back
# `WINDOW_DAYS` from the cutoff, so a live contact is described like the trained ones.
OBSERVE_DAYS = 30
WINDOW_DAYS = 44
HORIZON_DAYS = 90
# Live contacts get a score once known this long (less history is too little to judge).
MIN_HISTORY_DAYS = 7
LIVE = 36500  # observe_days for live scoring: everyone's cutoff is `as_of`

COUNTS: dict[str, tuple[str, str]] = {
    # input: (words when n > 0, words when n == 0) ; {n} is the count
    "pricing_views_14d": ("viewed pricing {n}× in the last 14 days", "no pricing views lately"),
    "pricing_views_older": ("viewed pricing {n}× before the last 14 days", "no earlier pricing"),
    "solution_views": ("viewed {n} solution pages", "no solution pages viewed"),
    "case_study_views": ("read {n} case studies", "no case studies read"),
    "blog_views": ("read {n} blog posts", "reads no blog posts"),
    "careers_views": ("looked at job openings {n}×", "no interest in job openings"),
    "docs_views": ("read the docs {n}×", "has not read the docs"),
    "other_views": ("viewed {n} other pages", "few other pages"),
    "guide_downloads": ("downloaded {n} guides", "downloaded no guides"),
    "event_registrations": ("registered for {n} events", "registered for no events"),
    "demo_requests": ("asked for a demo", "has not asked for a demo"),
    "other_events": ("{n} other tracked events", "no other tracked events"),
    "newsletter_opens": ("opened the newsletter {n}×", "does not open the newsletter"),
    "other_email_opens": ("opened {n} other emails", "opens no other emails"),
    "email_clicks": ("clicked {n} email links", "clicks no email links"),
    "active_days": ("visited on {n} days", "no visits"),
}
# Binned and categorical inputs: input -> words with {value}
CATEGORIES: dict[str, str] = {
    "depth": "{value} pages per visit day",
    "last_visit": "last visit: {value}",
    "last_pricing": "last pricing view: {value}",
    "seniority": "role: {value}",
    "industry": "industry: {value}",
    "size": "company size: {value}",
    "country": "country: {value}",
    "email": "{value} email address",
}
INPUTS = tuple(COUNTS) + tuple(CATEGORIES)

_SENIORITY = (
    ("vp", re.compile(r"(?i)\b(vp|vice president)\b")),
    ("executive", re.compile(r"(?i)\b(chief|ceo|cfo|cio|cmo|coo|cto|founder|owner|president)\b")),
    ("director", re.compile(r"(?i)\b(director|head of)\b")),
    ("student", re.compile(r"(?i)\b(student|intern|trainee)\b")),
    ("manager", re.compile(r"(?i)\b(manager|lead)\b")),
)
FREE_MAIL = frozenset(
    {"gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com"}
)


QUERIES = ("features", "history")


def _read(name: str) -> str:
    text = (resources.files("nurture.predictive") / "sql" / f"{name}.sql").read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


@cache
def source(name: str = "features") -> str:
    """The query's SQL text (DuckDB dialect): the shared population, then the query."""
    if name not in QUERIES:
        raise KeyError(f"no predictive query {name!r}")
    return _read("_population") + "\n" + _read(name)


@cache
def _parsed(name: str) -> exp.Expression:
    parsed: exp.Expression = sqlglot.parse_one(source(name), read="duckdb")  # type: ignore[assignment]
    return parsed


def render(
    as_of: str,
    dt_from: str = "2000-01-01",
    observe_days: int = OBSERVE_DAYS,
    window_days: int = WINDOW_DAYS,
    horizon_days: int = HORIZON_DAYS,
    dialect: Dialect = "duckdb",
    name: str = "features",
) -> str:
    """The features query with its parameters bound (sqlglot quotes them) in `dialect`.
    `as_of` is 'YYYY-MM-DD HH:MM:SS' (UTC)."""
    params = {
        "as_of": as_of,
        "dt_from": dt_from,
        "observe_days": int(observe_days),
        "window_days": int(window_days),
        "horizon_days": int(horizon_days),
    }
    return exp.replace_placeholders(_parsed(name).copy(), **params).sql(dialect=dialect)


def seniority(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        return "unknown"
    return next((level for level, rx in _SENIORITY if rx.search(title)), "individual")


def size_band(employees: Any) -> str:
    try:
        n = float(employees)
    except (TypeError, ValueError):
        return "unknown"
    for limit, band in ((10, "1-9"), (50, "10-49"), (250, "50-249"), (1000, "250-999")):
        if n < limit:
            return band
    return "1000+"


def _days_bin(days: Any, never: str) -> str:
    if days is None:
        return never
    d = float(days)
    if d < 3:
        return "in the last 3 days"
    if d < 14:
        return "3-14 days ago"
    return "over 14 days ago"


def _int(row: dict[str, Any], name: str) -> int:
    value = row.get(name)
    return int(value) if value is not None else 0


def encode(row: dict[str, Any]) -> dict[str, Any]:
    """A features-query row -> the model's inputs: counts (int) and categories (str)."""
    out: dict[str, Any] = {}
    for name in COUNTS:
        out[name] = _int(row, name)
    out["pricing_views_older"] = _int(row, "pricing_views") - _int(row, "pricing_views_14d")
    out["other_events"] = max(0, _int(row, "tracked_events") - _int(row, "demo_requests")) + max(
        0, _int(row, "forms") - _int(row, "guide_downloads") - _int(row, "event_registrations")
    )
    out["other_email_opens"] = _int(row, "email_opens") - _int(row, "newsletter_opens")
    pages = sum(
        _int(row, n)
        for n in (
            "pricing_views",
            "solution_views",
            "case_study_views",
            "blog_views",
            "careers_views",
            "docs_views",
            "other_views",
        )
    )
    days = _int(row, "active_days")
    depth = pages / days if days else 0.0
    out["depth"] = (
        "none" if not days else ("1-2" if depth < 2.5 else "3-4" if depth < 4.5 else "5+")
    )
    out["last_visit"] = _days_bin(row.get("days_since_active"), "never")
    out["last_pricing"] = _days_bin(row.get("days_since_pricing"), "never")
    out["seniority"] = seniority(row.get("job_title"))
    industry = row.get("industry")
    out["industry"] = (
        industry.strip().lower() if isinstance(industry, str) and industry else "unknown"
    )
    out["size"] = size_band(row.get("employees"))
    country = row.get("account_country") or row.get("contact_country")
    out["country"] = str(country).upper() if country else "unknown"
    domain = str(row.get("email_domain") or "").lower()
    out["email"] = "unknown" if not domain else "personal" if domain in FREE_MAIL else "company"
    return out


def log1p(n: float) -> float:
    return math.log1p(max(n, 0))


def words(name: str, value: Any) -> str:
    """An input's value in plain words."""
    if name in COUNTS:
        some, none = COUNTS[name]
        return some.format(n=value) if value else none
    return CATEGORIES[name].format(value=value)
