"""`nurture demo-data OUT`: a seeded synthetic B2B history with a known ground truth.

    nurture demo-data demo-lake --contacts 20000 --seed 7
    nurture model train --lake demo-lake --models demo-lake

Writes OUT/lake/activities (the activity lake's layout), OUT/lake/profiles (contacts and
accounts, fit fields only) and OUT/truth (each contact's true purchase probability and
how it was made: truth/README.md). See nurture/predictive/demo_data.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the folder to write (the bucket's layout)")
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--until", default="2026-11-30", help="the last day of data")
    parser.add_argument("--days", type=int, default=450, help="how many days of data")


def run(args: argparse.Namespace) -> int:
    from nurture.predictive.demo_data import Options, write

    if args.contacts < 1 or args.days < 30:
        print("nurture demo-data: --contacts must be >= 1 and --days >= 30", file=sys.stderr)
        return 2
    if (args.out / "lake" / "activities").exists():
        print(
            f"nurture demo-data: {args.out}/lake/activities exists; pick a new folder",
            file=sys.stderr,
        )
        return 2
    options = Options(contacts=args.contacts, seed=args.seed, until=args.until, days=args.days)
    counts = write(args.out, options)
    print(json.dumps(counts))
    return 0
