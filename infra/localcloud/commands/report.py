"""`nurture report`: the reports over the activity lake, run by DuckDB on this machine.

    nurture report funnel --program welcome --since 2026-01-01 --until 2026-01-31
    nurture report ab --program welcome
    nurture report attribution --group-by campaign --model w_shaped --lookback-days 60
    nurture report attribution --of contacts          # which touch created the contacts
    nurture report statuses --program welcome --format csv
    nurture report pipeline --since 2026-01-01
    nurture report review --stale-days 60 --format json

The lake is read from `--lake DIR` (a copy of the bucket's lake/ prefix, e.g. made with
`aws s3 sync s3://<bucket>/lake DIR/lake`) or straight from `--bucket NAME` with the AWS
credentials of the environment. Program files (`--programs`, default ./programs) give the
step order, holdout variants and last-edited times. The admin API answers the same reports
as JSON: GET /admin/reports/<report>?program=...&since=... (IAM-signed).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from tabulate import tabulate

from nurture.reporting import service
from nurture.reporting.duckdb_engine import DuckDbEngine, copy_lake
from nurture.reporting.ports import ProgramInfo


class FolderCatalog:
    """Programs from a folder of program files (last edited: the file's time)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def programs(self) -> list[ProgramInfo]:
        files = sorted(self.folder.glob("*.yaml")) if self.folder.is_dir() else []
        return [p for p in (self._load(f) for f in files) if p is not None]

    def get(self, program_id: str) -> ProgramInfo | None:
        path = self.folder / f"{program_id}.yaml"
        return self._load(path) if path.is_file() else None

    @staticmethod
    def _load(path: Path) -> ProgramInfo | None:
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            return None
        if not isinstance(data, dict):
            return None
        edited = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return ProgramInfo(
            str(data.get("id") or path.stem),
            str(data.get("status") or "live"),
            None,
            data,
            edited.isoformat(timespec="seconds").replace("+00:00", "Z"),
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", choices=service.REPORTS)
    parser.add_argument("--program", help="program id (funnel, ab, statuses)")
    parser.add_argument("--since", help="first day, YYYY-MM-DD (default: 30 days ago)")
    parser.add_argument("--until", help="last day, YYYY-MM-DD (default: today)")
    parser.add_argument(
        "--group-by", dest="group_by", help="program | campaign | channel | content"
    )
    parser.add_argument("--model", help="attribution model (default: all)")
    parser.add_argument("--of", help="attribution of: revenue (default) | contacts")
    parser.add_argument("--lookback-days", dest="lookback_days")
    parser.add_argument("--half-life-days", dest="half_life_days")
    parser.add_argument("--limit")
    parser.add_argument("--offset")
    parser.add_argument("--stale-days", dest="stale_days")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--lake", type=Path, default=Path("."), help="folder holding lake/")
    parser.add_argument("--bucket", help="read the lake from this S3 bucket instead")
    parser.add_argument("--programs", type=Path, default=Path("programs"))
    parser.add_argument("--today", help=argparse.SUPPRESS)


_PARAMS = (
    "program",
    "since",
    "until",
    "group_by",
    "model",
    "of",
    "lookback_days",
    "half_life_days",
    "limit",
    "offset",
    "stale_days",
)


def run(args: argparse.Namespace) -> int:
    raw = {k: getattr(args, k) for k in _PARAMS if getattr(args, k) is not None}
    try:
        service.parse(args.report, raw)
    except service.ReportError as exc:
        for e in exc.errors:
            print(f"nurture report {args.report}: {e['field']}: {e['reason']}", file=sys.stderr)
        return 2
    root = args.lake
    if args.bucket:
        import boto3

        from nurture.adapters.lake import S3Lake

        root = Path(tempfile.mkdtemp(prefix="nurture-lake-"))
        copy_lake(S3Lake(boto3.client("s3"), args.bucket), root)
    today = datetime.fromisoformat(args.today).date() if args.today else datetime.now(UTC).date()
    result = service.run(args.report, raw, DuckDbEngine(root), FolderCatalog(args.programs), today)
    sys.stdout.write(render(result, args.format))
    return 0


def render(result: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result, indent=2, default=str) + "\n"
    rows = table_rows(result)
    if fmt == "csv":
        out = io.StringIO()
        names = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    return tabulate(rows, headers="keys", tablefmt="simple", missingval="") + "\n"


def _fmt(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return value


def table_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A report as flat rows (the table and CSV forms)."""
    kind = result["report"]
    if kind == "funnel":
        rows = []
        sends = ("sent", "delivered", "opened", "clicked", "skipped")
        for v in result["versions"]:
            rows.append({"version": v["version"], "step": "(entered)", "reached": v["entered"]})
            for s in v["steps"]:
                row = {"version": v["version"], "step": s["step_id"], "reached": s["reached"]}
                if any(s[k] for k in sends):  # a send step
                    row.update({k: s[k] for k in sends})
                row["detail"] = _fmt(s.get("variants") or s["skip_reasons"]) or None
                rows.append(row)
            rows.append(
                {
                    "version": v["version"],
                    "step": "(converted)",
                    "reached": v["converted"],
                    "detail": _fmt(v["goals"]) or None,
                }
            )
            rows.append(
                {
                    "version": v["version"],
                    "step": "(exited)",
                    "reached": v["exited"],
                    "detail": _fmt(v["exit_reasons"]) or None,
                }
            )
        for h in result["holdout"]:
            rows.append(
                {
                    "version": "holdout",
                    "step": h["step_id"],
                    "reached": h["holdout"]["entrants"],
                    "detail": f"lift {h['lift']} (relative {h['relative_lift']}), "
                    f"confidence {h['confidence']}",
                }
            )
        return rows
    if kind == "ab":
        return [
            {"step": s["step_id"], **{k: v for k, v in var.items() if k != "first_entry"}}
            for s in result["splits"]
            for var in s["variants"]
        ]
    if kind == "statuses":
        return list(result["contacts"])
    if kind == "review":
        return [{**p, "stale_reasons": "; ".join(p["stale_reasons"])} for p in result["programs"]]
    rows_: list[dict[str, Any]] = result["rows"]
    return rows_
