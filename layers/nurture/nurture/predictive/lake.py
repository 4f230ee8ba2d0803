"""The training data: the activity lake plus the fit-only profile snapshot, in DuckDB.

`lake/profiles/contacts.json.gz` and `lake/profiles/accounts.json.gz` (gzip NDJSON) hold
what fit features read and nothing else: contact id, when created, job title, country,
account id, the email's domain (not the address), stage; and per account its industry,
employee count and country. `nurture demo-data` writes them; the training function
exports them from the contacts table (`profile_snapshot`) before it trains.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nurture.predictive import features
from nurture.reporting.duckdb_engine import DuckDbEngine
from nurture.reporting.lake import PROFILES_PREFIX

PROFILE_COLUMNS = {
    "contact_id": "VARCHAR",
    "created_at": "VARCHAR",
    "job_title": "VARCHAR",
    "country": "VARCHAR",
    "account_id": "VARCHAR",
    "email_domain": "VARCHAR",
    "stage": "VARCHAR",
}
ACCOUNT_COLUMNS = {
    "account_id": "VARCHAR",
    "industry": "VARCHAR",
    "employees": "DOUBLE",
    "country": "VARCHAR",
}


def _table(engine: DuckDbEngine, name: str, path: Path, columns: dict[str, str]) -> None:
    engine.db.execute(f"DROP TABLE IF EXISTS {name}")
    if path.exists():
        spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in columns.items()) + "}"
        quoted = "'" + str(path).replace("'", "''") + "'"
        engine.db.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_json({quoted}, "  # noqa: S608 - our path
            f"format = 'newline_delimited', compression = 'gzip', columns = {spec})"
        )
    else:
        cols = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in columns.items())
        engine.db.execute(f"CREATE TABLE {name} AS SELECT {cols} WHERE false")  # noqa: S608


def open_lake(root: Path) -> DuckDbEngine:
    """DuckDB over `root/lake/activities` and `root/lake/profiles`."""
    engine = DuckDbEngine(root)
    _table(engine, "profiles", root / PROFILES_PREFIX / "contacts.json.gz", PROFILE_COLUMNS)
    _table(engine, "accounts", root / PROFILES_PREFIX / "accounts.json.gz", ACCOUNT_COLUMNS)
    return engine


def feature_rows(
    engine: DuckDbEngine, as_of: str, live: bool = False, **params: Any
) -> list[dict[str, Any]]:
    """The features query's rows as of `as_of` ('YYYY-MM-DD HH:MM:SS'); `live`: everyone's
    cutoff is `as_of` (scoring), else when they became known + observe_days (training)."""
    if live:
        params["observe_days"] = features.LIVE
    return engine.query(features.render(as_of, **params))


def history_rows(
    engine: DuckDbEngine, as_of: str, contact_ids: Iterable[str], **params: Any
) -> list[dict[str, Any]]:
    """What each of `contact_ids` did before its cutoff, oldest first."""
    engine.db.execute("CREATE OR REPLACE TEMP TABLE wanted (contact_id VARCHAR)")
    engine.db.executemany("INSERT INTO wanted VALUES (?)", [[c] for c in contact_ids])
    return engine.query(features.render(as_of, name="history", **params))


def profile_snapshot(contacts: Iterable[Any], accounts: dict[str, Any]) -> tuple[list, list]:
    """Contacts (nurture.contacts.Contact) and their accounts -> the snapshot rows."""
    people, companies = [], {}
    for c in contacts:
        domain = c.email.rsplit("@", 1)[1].lower() if c.email and "@" in c.email else None
        account_id = c.account_id or c.fields.get("account_id")
        people.append(
            {
                "contact_id": c.contact_id,
                "created_at": c.created_at,
                "job_title": c.job_title,
                "country": c.country,
                "account_id": account_id,
                "email_domain": domain,
                "stage": c.stage,
            }
        )
        found = accounts.get(account_id) if account_id else None
        if found is not None and account_id not in companies:
            companies[account_id] = {
                "account_id": account_id,
                "industry": found.get("industry"),
                "employees": found.get("employees"),
                "country": found.get("country"),
            }
    return people, list(companies.values())
