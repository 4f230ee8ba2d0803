"""`nurture import` at scale: time and peak memory of importing 100,000 CSV rows, on the
code production runs (nurture.imports + nurture.adapters.imports + a real botocore client;
only the network is stubbed: bench/dynamo_stub.py answers DynamoDB in memory), against a
baseline in the same run: reading the same CSV and checking each row's email with
email-validator (the least any import must do).

Rows: 100,000 contacts (email, names, phone, a date, a custom field, tags, two consent
columns with a date), 1 in 50 rejected (a bad address, a bad date); then the same file again
(idempotent: nothing written). Printed: seconds (wall and CPU) and rows a second, the ratio
to the baseline, DynamoDB calls and write units, the peak of Python allocations
(tracemalloc, a separate pass of a tenth of the rows; the stub's in-memory tables, which
grow with the rows, are counted in it) and the process's peak RSS (the same).

`.venv/bin/python bench/import_contacts.py [--rows N]`; `BENCH_SMOKE=1` runs 2,000 rows.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from botocore.config import Config
from dynamo_stub import Dynamo, client

from localcloud.commands.import_contacts import import_file
from nurture.adapters.imports import DynamoImports
from nurture.contacts import email_problem
from nurture.imports.mapping import parse_mapping

MAPPING = {
    "columns": {
        "email": "email",
        "first": "first_name",
        "last": "last_name",
        "phone": "phone",
        "born": "birthday",
        "plan": "fields.plan",
        "tags": "tags",
    },
    "consent": [
        {
            "column": "news",
            "channel": "email",
            "topic": "newsletter",
            "wording": "Send me the newsletter",
            "at_column": "opted",
        },
        {
            "column": "offers",
            "channel": "email",
            "topic": "offers",
            "wording": "Send me offers",
            "at_column": "opted",
        },
    ],
    "default_country_code": "44",
}
NOW = "2026-06-01T00:00:00Z"
# as the admin function and `nurture import --stack` make their import client
NO_CHECK = Config(parameter_validation=False)


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="") as out:
        w = csv.writer(out)
        w.writerow(
            ["email", "first", "last", "phone", "born", "plan", "tags", "news", "offers", "opted"]
        )
        for i in range(rows):
            bad = i % 50 == 49
            email = f"person{i}@example.com" if not (bad and i % 100 == 49) else f"person{i}@"
            born = (
                "1990-02-31"
                if bad and i % 100 == 99
                else f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
            )
            w.writerow(
                [
                    email,
                    f"First{i}",
                    f"Last{i}",
                    f"07400 {100000 + i % 800000:06d}",
                    born,
                    rng.choice(["free", "pro", "team"]),
                    "imported,spring",
                    rng.choice(["yes", "no", ""]),
                    rng.choice(["yes", ""]),
                    f"2025-0{rng.randint(1, 9)}-15",
                ]
            )


def store(dynamo: Dynamo) -> DynamoImports:
    return DynamoImports(client(dynamo, NO_CHECK), "contacts", "activities", "state")


def baseline(path: Path) -> float:
    """CPU seconds of the least any import does: read the CSV, check each address."""
    started = time.process_time()
    with path.open(newline="") as text:
        for cells in csv.DictReader(text):
            email_problem(cells["email"])
    return time.process_time() - started


def run_import(dynamo: Dynamo, path: Path) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    stub_cpu = dynamo.cpu
    totals = import_file(store(dynamo), path, parse_mapping(MAPPING), NOW, io.StringIO())
    cpu_used = time.process_time() - cpu - (dynamo.cpu - stub_cpu)
    return totals, time.perf_counter() - wall, cpu_used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--rows", type=int, default=2000 if os.environ.get("BENCH_SMOKE") else 100_000
    )
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.csv"
        write_csv(path, rows)
        print(
            f"import of {rows:,} rows ({path.stat().st_size / 1e6:.1f} MB CSV), DynamoDB stubbed at botocore's before-send"
        )
        base = baseline(path)
        dynamo = Dynamo()
        dynamo.metering = True
        totals, wall, cpu = run_import(dynamo, path)
        print(f"  baseline (csv + email-validator):  {base:7.2f} s CPU {rows / base:9,.0f} rows/s")
        print(
            f"  first import:                       {wall:7.2f} s wall; CPU (stub's share removed) "
            f"{cpu:.2f} s = {rows / cpu:,.0f} rows/s = {cpu / base:.1f}x the baseline"
        )
        print(
            f"    {totals.imported:,} imported, {totals.rejected:,} rejected, {totals.consents:,} consents; "
            f"DynamoDB calls {dict(sorted(dynamo.calls.items()))}, {dynamo.write_units:,.0f} WCU, {dynamo.read_units:,.0f} RCU"
        )
        items = dynamo.count()
        dynamo.reset_counts()
        again, wall2, _ = run_import(dynamo, path)
        assert dynamo.count() == items and again.created == again.updated == 0, "not idempotent"
        print(
            f"  same file again:                    {wall2:7.2f} s  writes {dynamo.write_units:.0f} WCU, "
            f"calls {dict(sorted(dynamo.calls.items()))}"
        )
        small = Path(tmp) / "tenth.csv"
        write_csv(small, max(rows // 10, 1000), seed=8)
        tracemalloc.start()
        run_import(Dynamo(), small)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  peak Python allocations (tracemalloc, {max(rows // 10, 1000):,} rows): {peak / 1e6:.1f} MB; "
            f"process peak RSS (stub's tables for {rows:,} contacts included): {rss:.0f} MB"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
