"""A handler's cold import leaves for its first call what that call may not need (#9).

Imported as Lambda runs it (the layer the Makefile ships, the function's folder, `python -I
-S`, the template's environment, tracing on as deployed), no handler imports boto3 or makes a
botocore client, patches botocore for X-Ray, imports powertools Parameters (a secret read),
or builds the settings models it does not use; the handlers that render no template on their
usual first call do not import jinja2. And tracing is still as deployed: the first client a
handler makes patches botocore for X-Ray before any AWS call. Guards on what is imported, not
on timings: bench/cold_import.py has the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.lambda_layout import (
    function_dir,
    function_environment,
    secrets_server,
    shipped_layer,
    zip_functions,
)
from localcloud.template import load_template

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = zip_functions(TEMPLATE)
# Never imported by any handler's top level.
NEVER = [
    "boto3",
    "botocore.client",
    "botocore.session",
    "aws_lambda_powertools.utilities.parameters",
]
# Handlers whose usual first call renders no template (a page view, a stream batch, an SES
# notification, an SMS reply, the daily sweep): jinja2 waits for the call that renders.
NO_TEMPLATES = {
    "IngestFunction",
    "ReactFunction",
    "EngagementFunction",
    "LakeFunction",
    "SmsInboundFunction",
    "SweepFunction",
}
# What a handler's import leaves to the call that uses it (#9 cold starts): the sales desk
# (team file, CRM models, answer pages' jinja2) waits for the sales function's first call.
LATER = {
    "SalesFunction": [
        "jinja2",
        "yaml",
        "nurture.sales.desk",
        "nurture.sales.crm",
        "nurture.accounts",  # the first account read (the stores' module builds no model)
    ],
    # the first query (a run that ended queries none); the report parameters' models, and what
    # a run that ended reads (the privacy service's stop cause), with the first of each
    "ReportsFunction": [
        "sqlglot",
        "duckdb",
        "nurture.reporting.service",
        "nurture.privacy.service",
        "nurture.accounts",
    ],
    # a scoring model; the contact and activity stores (the first deploy writes its record)
    "DeployFunction": ["nurture.scoring.model", "nurture.adapters.dynamodb", "nurture.accounts"],
    # a known contact's activity (the desk; scoring, the due index, programs and their
    # conditions: an anonymous page view matches none); a double opt-in form (mail settings)
    "ReactFunction": [
        "nurture.sales.desk",
        "nurture.sales.crm",
        "nurture.delivery.config",
        "nurture.scoring.engine",
        "nurture.runtime.due",
        "nurture.programs.model",
        "nurture.programs.conditions",
    ],
    # the step types besides sends and waits (branch, webhook, ... the first of them)
    "StepsFunction": ["nurture.runtime.actions", "nurture.programs.model", "urllib3"],
    # the first page rendered (a one-click POST renders none); the stores, contact and activity
    # models (the confirmation page, a double opt-in link's GET, reads and records nothing)
    "PreferencesFunction": [
        "jinja2",
        "nurture.adapters.delivery",
        "nurture.adapters.dynamodb",
        "nurture.contacts",
        "nurture.tracking.events",
    ],
    # the first score explained (an hour with no digest due explains none)
    "SalesDigestFunction": ["nurture.scoring", "nurture.scoring.explain", "nurture.accounts"],
}
# The html package's entity table: the first email whose site links are signed (steps).
FIRST_SEND = ["html.entities"]
# Imported by no call of these handlers: powertools' data classes package (the S3 and SNS
# notifications are read as the dicts they are; the package imports ~40 event classes), and
# asyncio (wrapt 2 imported it with X-Ray's SDK; the layer pins wrapt 1.17). The HTTP
# handlers' resolver (powertools' event_handler package) and the react function's batch
# processor import both.
UNUSED = ["aws_lambda_powertools.utilities.data_classes", "asyncio"]
NOT_HTTP = {
    "DeployFunction",
    "EngagementFunction",
    "LakeFunction",
    "SalesDigestFunction",
    "SmsInboundFunction",
    "StepsFunction",
    "SweepFunction",
}

PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]   # /var/task, /opt/python
import app
from aws_xray_sdk.core import patcher
from pydantic import BaseModel
report = {
    "modules": sorted(sys.modules),
    "patched_at_import": sorted(patcher._PATCHED_MODULES),
    "settings_built": {
        name: [base.__name__ for base in model.__mro__]
        for module in [m for n, m in list(sys.modules.items()) if n.startswith("nurture.settings")]
        for name, model in vars(module).items()
        if isinstance(model, type) and issubclass(model, BaseModel)
        and model is not BaseModel and model.__pydantic_complete__
    },
}
# The first AWS client a handler makes: botocore is patched for X-Ray before it is used.
from nurture.adapters.clients import client
client("dynamodb").meta
report["patched_after_first_client"] = sorted(patcher._PATCHED_MODULES)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def layer() -> Path:
    return shipped_layer()


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    with secrets_server() as endpoint:
        yield endpoint


def _probe(name: str, layer: Path, endpoint: str) -> dict[str, Any]:
    props = FUNCTIONS[name]
    task = function_dir(name, props["CodeUri"])
    # tracing as deployed (Tracing: Active): the X-Ray daemon's variables, powertools on
    env = function_environment(props, TEMPLATE, tracing=True, task_root=task)
    env["AWS_ENDPOINT_URL"] = endpoint
    result = subprocess.run(  # noqa: S603 - this interpreter, our probe
        [sys.executable, "-I", "-S", "-B", "-c", PROBE, str(task), str(layer)],
        env=env,
        cwd=task,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{name}:\n{result.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_cold_import_leaves_aws_and_unused_models_to_the_first_call(
    name: str, layer: Path, aws: str
) -> None:
    report = _probe(name, layer, aws)
    modules = set(report["modules"])
    assert [m for m in NEVER if m in modules] == [], name
    assert report["patched_at_import"] == [], name
    # the settings model the function validates (and its bases) are built, no other
    built = report["settings_built"]
    assert any(set(built) <= set(mro) for mro in built.values()), (name, sorted(built))
    # and no other function's settings module is imported (each model costs ~0.7 ms to create)
    own = [m for m in modules if m.startswith("nurture.settings.")]
    assert len(own) <= 1, (name, own)
    if name in NO_TEMPLATES:
        assert "jinja2" not in modules, name
    assert [m for m in LATER.get(name, []) if m in modules] == [], name
    assert [m for m in FIRST_SEND if m in modules] == [], name
    if name in NOT_HTTP:
        assert [m for m in UNUSED if m in modules] == [], name
    # tracing as deployed: the first client made patches botocore
    assert report["patched_after_first_client"] == ["botocore"], name
