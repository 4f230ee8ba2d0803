"""Each report over a synthetic activity lake on DuckDB, with time and peak memory.

A synthetic history of N activities (default 1,000,000) is written the way the lake
function writes it (`nurture.reporting.lake.encode`: gzip NDJSON, one object per batch of
5,000 rows, under dt= partitions over 90 days): contacts arrive from campaigns, referrers
and forms, are identified, enter three programs (one with an A/B split and a holdout),
receive, open and click emails, convert, change stage, are accepted by sales, and buy.

Then DuckDB (as `nurture report` and the reports function run it) loads the lake once and
each report runs over the whole period. Times are the median of 3 runs; the baseline is a
one-pass aggregate (`SELECT name, COUNT(*), SUM(revenue) ... GROUP BY name`) of the same table in the same run, so
each report is also shown as a ratio to it. Peak memory is the process's peak resident set
size after the report (DuckDB allocates outside Python, so tracemalloc would not see it).
The goal is each report under 5 s on this 2-core machine.

    .venv/bin/python bench/reports_lake.py            # 1,000,000 activities
    .venv/bin/python bench/reports_lake.py --rows 50000   # a smoke run
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from nurture.reporting import reports
from nurture.reporting.duckdb_engine import DuckDbEngine
from nurture.reporting.lake import LAKE_PREFIX, encode, object_key
from nurture.reporting.ports import ProgramInfo

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
BATCH = 5000
GOAL_SECONDS = 5.0
PROGRAMS = {
    "welcome": ["welcome-1", "welcome-2"],
    "onboarding": ["thanks", "setup", "incentive"],
    "ab": ["send-a", "send-b"],
}
AB = ProgramInfo(
    "ab",
    definition={
        "steps": [
            {
                "id": "pick",
                "type": "split",
                "variants": [
                    {"name": "A", "percent": 45, "next": "send-a"},
                    {"name": "B", "percent": 45, "next": "send-b"},
                    {"name": "holdout", "percent": 10, "next": "done"},
                ],
            },
            {"id": "send-a", "type": "send_email"},
            {"id": "send-b", "type": "send_email"},
            {"id": "done", "type": "end"},
        ]
    },
)


def _row(i: int, when: datetime, name: str, kind: str, **cols: object) -> dict[str, object]:
    # Columns left out are NULL to both DuckDB and Athena, as the writer's explicit nulls are.
    return {
        "id": f"k{i}",
        "message_id": f"m{i}",
        "kind": kind,
        "name": name,
        "ts": when.strftime("%Y-%m-%d %H:%M:%S.000"),
        "properties": "{}",
        **{k: v for k, v in cols.items() if v is not None},
    }


def synthesise(total: int, seed: int = 7) -> list[dict[str, object]]:
    """About 20 activities per contact until `total` rows exist."""
    rnd = random.Random(seed)
    rows: list[dict[str, object]] = []
    contact = 0
    while len(rows) < total:
        contact += 1
        cid, anon = f"c{contact}", f"anon:v{contact}"
        t = START + timedelta(seconds=rnd.randrange(DAYS * 86400 - 20 * 86400))

        def add(name: str, kind: str, minutes: float = 30, **cols: object) -> None:
            nonlocal t
            t += timedelta(minutes=rnd.expovariate(1 / minutes))
            rows.append(_row(len(rows), t, name, kind, **cols))

        campaign = rnd.choice(["spring", "summer", "brand", None])
        add(
            "landing",
            "page",
            actor=anon,
            url="https://example.com/",
            url_host="example.com",
            utm_campaign=campaign,
            utm_medium="cpc" if campaign else None,
            utm_content=f"ad{rnd.randrange(5)}" if campaign else None,
            referrer_host=None if campaign else rnd.choice(["news.example.org", "search.example"]),
        )
        for _ in range(rnd.randrange(1, 5)):
            add("page", "page", actor=anon, url_host="example.com")
        add("newsletter-signup", "form", actor=anon)
        add(
            "contact.identified",
            "contact",
            0.1,
            actor=f"contact:{cid}",
            contact_id=cid,
            created=True,
            actors=[anon, f"email:{cid}@example.com"],
        )
        for program, steps in PROGRAMS.items():
            if rnd.random() < 0.6:
                continue
            execution = f"{program}--{cid}"
            base = {
                "actor": f"contact:{cid}",
                "contact_id": cid,
                "program_id": program,
                "execution": execution,
            }
            add("program.entered", "program", 1, version=str(rnd.randrange(1, 3)), **base)
            if program == "ab":
                variant = rnd.choices(["A", "B", "holdout"], [45, 45, 10])[0]
                add("program.split", "program", 0.1, step_id="pick", variant=variant, **base)
                steps = {"A": ["send-a"], "B": ["send-b"], "holdout": []}[variant]
            for step in steps:
                if rnd.random() < 0.1:
                    add("email.skipped", "email", 60, step_id=step, reason="no_consent", **base)
                    continue
                add("email.sent", "email", 600, step_id=step, **base)
                add("email.delivered", "email", 1, step_id=step, **base)
                if rnd.random() < 0.5:
                    add("email.opened", "email", 120, step_id=step, **base)
                    if rnd.random() < 0.4:
                        add("email.clicked", "email", 5, step_id=step, **base)
            if rnd.random() < 0.2:
                add("program.converted", "program", 600, goal="bought", **base)
        for stage in ("lead", "mql", "sql", "customer"):
            if rnd.random() < 0.5:
                break
            add(
                "contact.stage_changed",
                "contact",
                1440,
                actor=f"contact:{cid}",
                contact_id=cid,
                stage_to=stage,
            )
            if stage == "mql" and rnd.random() < 0.7:
                add(
                    "lead.accepted",
                    "lead",
                    60,
                    actor=f"contact:{cid}",
                    contact_id=cid,
                    response_seconds=float(rnd.randrange(60, 86400)),
                )
        if rnd.random() < 0.3:
            add(
                "Order Completed",
                "track",
                2880,
                actor=f"user:{cid}",
                contact_id=cid,
                revenue=round(rnd.uniform(10, 500), 2),
                currency="EUR",
            )
    return rows[:total]


def write_lake(rows: list[dict[str, object]], root: Path) -> int:
    rows.sort(key=lambda r: str(r["ts"]))
    objects = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        by_day: dict[str, list[dict[str, object]]] = {}
        for r in batch:
            by_day.setdefault(str(r["ts"])[:10], []).append(r)
        for dt, day_rows in by_day.items():
            path = root / object_key(dt, f"{start:012d}", f"{start + len(batch) - 1:012d}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode(day_rows))
            objects += 1
    return objects


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, rounds: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median wall time and median CPU time (all of DuckDB's threads: they are this
    process's), so a run on a busy machine still shows what the work costs."""
    walls, cpus = [], []
    for _ in range(rounds):
        began, began_cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - began_cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--dir", type=Path, help="keep the synthetic lake here, and reuse it if it is there"
    )
    args = parser.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-lake-"))
    began = time.perf_counter()
    marker = root / f"rows-{args.rows}"
    if not marker.exists():
        rows = synthesise(args.rows)
        write_lake(rows, root)
        del rows
        marker.touch()
    files = list((root / LAKE_PREFIX).rglob("*.gz"))
    size = sum(p.stat().st_size for p in files) / 1e6
    print(
        f"lake: {args.rows:,} activities in {len(files)} gzip NDJSON objects, {size:.1f} MB "
        f"(ready in {time.perf_counter() - began:.1f} s)"
    )
    began = time.perf_counter()
    engine = DuckDbEngine(root, load=True)
    print(f"DuckDB load of the lake: {time.perf_counter() - began:.2f} s, peak {peak_mb():.0f} MB")
    period = reports.Period(START.date(), START.date() + timedelta(days=DAYS - 1))
    baseline, baseline_cpu = timed(
        lambda: engine.query(
            "SELECT name, COUNT(*) AS n, SUM(revenue) AS r FROM activities GROUP BY name"
        )
    )
    cases = {
        "funnel (welcome)": lambda: reports.funnel(engine, "welcome", period),
        "funnel (ab, with holdout lift)": lambda: reports.funnel(engine, "ab", period, AB),
        "ab": lambda: reports.ab(engine, "ab", period, AB),
        "attribution (all models)": lambda: reports.attribution(engine, period, "campaign"),
        "attribution of contacts": lambda: reports.created_by(engine, period),
        "statuses (welcome)": lambda: reports.statuses(engine, "welcome", period),
        "pipeline": lambda: reports.pipeline(engine, period),
        "review": lambda: reports.review(engine, [], date(2026, 4, 1)),
    }
    print(f"{'report':32} {'median s':>9} {'cpu s':>7} {'x scan':>8} {'peak MB':>8}")
    print(
        f"{'baseline: one-pass GROUP BY':32} {baseline:9.3f} {baseline_cpu:7.3f} {1:8.1f} "
        f"{peak_mb():8.0f}"
    )
    slow = []
    for name, run in cases.items():
        seconds, cpu = timed(run)
        print(f"{name:32} {seconds:9.3f} {cpu:7.3f} {seconds / baseline:8.1f} {peak_mb():8.0f}")
        if seconds > GOAL_SECONDS:
            slow.append(name)
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"(load average {load} on {__import__('os').cpu_count()} cores during the run)")
    print("goal: each report under 5 s -", "met" if not slow else f"MISSED by {', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
