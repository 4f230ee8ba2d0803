"""The JSON Schema files exported from the pydantic models of the files marketers write
(programs, scoring models, the sales team), for editors: autocomplete and checks as you type.
Each exporting module (`nurture.programs.schema`, ...) is a command:

    python -m nurture.<package>.schema --write    # regenerate schemas/<name>
    python -m nurture.<package>.schema --check    # exit 1 when the file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class SchemaFile:
    model: type[BaseModel]
    file_name: str  # under schemas/
    title: str
    description: str
    module: str  # the command that regenerates it

    def schema(self) -> dict[str, Any]:
        schema = self.model.model_json_schema(by_alias=True, mode="validation")
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://nurture.dev/schemas/{self.file_name}",
            "title": self.title,
            "description": self.description,
            **{k: v for k, v in schema.items() if k not in ("title", "description")},
        }

    def render(self) -> str:
        return json.dumps(self.schema(), indent=2, sort_keys=True) + "\n"

    def main(self, argv: list[str] | None = None) -> int:
        parser = argparse.ArgumentParser(description=f"The JSON Schema of {self.title} files")
        parser.add_argument("--write", action="store_true", help="write the schema file")
        parser.add_argument("--check", action="store_true", help="fail when the file is stale")
        parser.add_argument("--path", type=Path, default=Path("schemas") / self.file_name)
        args = parser.parse_args(argv)
        text = self.render()
        if args.write:
            args.path.parent.mkdir(parents=True, exist_ok=True)
            args.path.write_text(text)
            print(f"wrote {args.path}")
            return 0
        if args.check:
            if (args.path.read_text() if args.path.exists() else "") != text:
                print(f"{args.path} is out of date: run python -m {self.module} --write")
                return 1
            return 0
        sys.stdout.write(text)
        return 0
