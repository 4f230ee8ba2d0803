"""The report queries: one SQL text each (sql/*.sql, DuckDB dialect), bound and rendered for
DuckDB or for Athena (Trino) by sqlglot, so both engines run the same query."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sqlglot import exp

Dialect = Literal["duckdb", "athena"]
# Queries that start from the shared contact-level CTEs in _people.sql.
_PEOPLE = frozenset({"attribution", "created_by", "pipeline"})
QUERIES = ("funnel", "ab", "attribution", "created_by", "statuses", "pipeline", "review")


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


@cache
def source(name: str) -> str:
    """The query's SQL text (DuckDB dialect), with :named placeholders."""
    if name not in QUERIES:
        raise KeyError(f"no report query {name!r}")
    folder = resources.files("nurture.reporting") / "sql"
    text = _strip_comments((folder / f"{name}.sql").read_text())
    if name in _PEOPLE:
        text = _strip_comments((folder / "_people.sql").read_text()) + "\n" + text
    return text


@cache
def _parsed(name: str) -> exp.Expression:
    # sqlglot is imported by the first query, not with the reports function (#9: it was half
    # of its cold import, and a run that ended queries nothing)
    import sqlglot

    parsed: exp.Expression = sqlglot.parse_one(source(name), read="duckdb")  # type: ignore[assignment]
    return parsed


def placeholders(name: str) -> set[str]:
    from sqlglot import exp  # loaded by _parsed

    return {p.name for p in _parsed(name).find_all(exp.Placeholder)}


def render(name: str, params: dict[str, Any], dialect: Dialect = "duckdb") -> str:
    """The query with its parameters bound as literals (sqlglot quotes them), in `dialect`.
    Every placeholder must be given: a missing one is a programming error."""
    missing = placeholders(name) - params.keys()
    if missing:
        raise KeyError(f"query {name!r} needs {sorted(missing)}")
    for key, value in params.items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise TypeError(f"parameter {key!r} must be a string or a number")
    from sqlglot import exp  # loaded by _parsed (placeholders)

    bound = exp.replace_placeholders(_parsed(name).copy(), **params)
    return bound.sql(dialect=dialect)
