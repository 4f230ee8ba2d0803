"""The JSON Schema of program files, for editors (autocomplete and checks as you type).

    python -m nurture.programs.schema --write    # regenerate schemas/program.schema.json
    python -m nurture.programs.schema --check    # exit 1 when the file is out of date

Point your editor at it, e.g. VS Code's YAML extension:
`"yaml.schemas": {"./schemas/program.schema.json": "programs/*.yaml"}`, or put
`# yaml-language-server: $schema=../schemas/program.schema.json` on a program's first line.
"""

from __future__ import annotations

import sys

from nurture.programs.model import Program
from nurture.schema_files import SchemaFile

SCHEMA = SchemaFile(
    Program,
    "program.schema.json",
    title="Nurture program",
    description="A multi-step program: trigger, entry rules, goals and steps.",
    module="nurture.programs.schema",
)
render = SCHEMA.render

if __name__ == "__main__":
    sys.exit(SCHEMA.main())
