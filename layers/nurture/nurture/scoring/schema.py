"""The JSON Schema of scoring model files, for editors (autocomplete and checks as you type).

    python -m nurture.scoring.schema --write    # regenerate schemas/scoring.schema.json
    python -m nurture.scoring.schema --check    # exit 1 when the file is out of date

VS Code's YAML extension: `"yaml.schemas": {"./schemas/scoring.schema.json": "scoring/*.yaml"}`,
or `# yaml-language-server: $schema=../schemas/scoring.schema.json` on a model's first line.
"""

from __future__ import annotations

import sys

from nurture.schema_files import SchemaFile
from nurture.scoring.model import ScoringModel

SCHEMA = SchemaFile(
    ScoringModel,
    "scoring.schema.json",
    title="Nurture scoring model",
    description="Behaviour rules with decay, a fit grade A-F and the MQL rule.",
    module="nurture.scoring.schema",
)
render = SCHEMA.render

if __name__ == "__main__":
    sys.exit(SCHEMA.main())
