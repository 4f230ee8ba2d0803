"""The JSON Schema of scoring model files, for editors (autocomplete and checks as you type).

    python -m nurture.scoring.schema --write    # regenerate schemas/scoring.schema.json
    python -m nurture.scoring.schema --check    # exit 1 when the file is out of date

VS Code's YAML extension: `"yaml.schemas": {"./schemas/scoring.schema.json": "scoring/*.yaml"}`,
or `# yaml-language-server: $schema=../schemas/scoring.schema.json` on a model's first line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nurture.scoring.model import ScoringModel

SCHEMA_PATH = Path("schemas") / "scoring.schema.json"
SCHEMA_ID = "https://nurture.dev/schemas/scoring.schema.json"


def scoring_schema() -> dict[str, Any]:
    schema = ScoringModel.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Nurture scoring model",
        "description": "Behaviour rules with decay, a fit grade A-F and the MQL rule.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def render() -> str:
    return json.dumps(scoring_schema(), indent=2, sort_keys=True) + "\n"


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
        current = args.path.read_text() if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is out of date: run python -m nurture.scoring.schema --write")
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
