"""The JSON Schema of sales/team.yaml, for editors (autocomplete and checks as you type).

python -m nurture.sales.schema --write    # regenerate schemas/sales-team.schema.json
python -m nurture.sales.schema --check    # exit 1 when the file is out of date
"""

from __future__ import annotations

import sys

from nurture.sales.team import Team
from nurture.schema_files import SchemaFile

SCHEMA = SchemaFile(
    Team,
    "sales-team.schema.json",
    title="Nurture sales team",
    description="Salespeople, lead assignment rules, the daily digest, recycling, the CRM.",
    module="nurture.sales.schema",
)
render = SCHEMA.render

if __name__ == "__main__":
    sys.exit(SCHEMA.main())
