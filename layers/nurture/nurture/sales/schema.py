"""The JSON Schema of sales/team.yaml, for editors (autocomplete and checks as you type).

python -m nurture.sales.schema --write    # regenerate schemas/sales-team.schema.json
python -m nurture.sales.schema --check    # exit 1 when the file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nurture.sales.team import Team

SCHEMA_PATH = Path("schemas") / "sales-team.schema.json"
SCHEMA_ID = "https://nurture.dev/schemas/sales-team.schema.json"


def team_schema() -> dict[str, Any]:
    schema = Team.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Nurture sales team",
        "description": "Salespeople, lead assignment rules, the daily digest, recycling, the CRM.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def render() -> str:
    return json.dumps(team_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the schema file")
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    parser.add_argument("--path", type=Path, default=SCHEMA_PATH)
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(text)
        print(f"wrote {args.path}")
        return 0
    if args.check:
        if (args.path.read_text() if args.path.exists() else "") != text:
            print(f"{args.path} is out of date: run python -m nurture.sales.schema --write")
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
