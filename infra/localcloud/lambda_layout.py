"""The folders Lambda gives a function, built here as `sam build` builds them.

* the layer (/opt/python): `layers/nurture/Makefile`'s `build-SharedLayer`, the target
  `sam build` runs (template.yaml: BuildMethod makefile) - the pinned requirements, the
  nurture package and the bytecode it ships - built for this machine's platform so it can be
  imported here;
* a function's folder (/var/task): its code, plus its own requirements.txt when it has one.

Both are cached under .pytest_cache/lambda-layout, keyed by what goes into them, so the
tests and bench/cold_import.py rebuild only when a requirement, the Makefile or the package
changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from localcloud.template import Resolver

ROOT = Path(__file__).resolve().parents[2]
LAYER_SOURCE = ROOT / "layers" / "nurture"
CACHE = ROOT / ".pytest_cache" / "lambda-layout"


def _digest(*paths: Path) -> str:
    h = hashlib.sha256(sys.version.encode())
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" not in file.parts:
                h.update(str(file.relative_to(ROOT)).encode())
                h.update(file.read_bytes())
    return h.hexdigest()[:16]


def _make(target: str, artifacts: Path) -> None:
    subprocess.run(  # noqa: S603 - our Makefile, our arguments
        ["make", "--no-print-directory", "-C", str(LAYER_SOURCE), target]
        + [f"ARTIFACTS_DIR={artifacts}", f"PYTHON={sys.executable}", "PIP_PLATFORM="],
        check=True,
        timeout=900,
        stdout=subprocess.DEVNULL,
    )


def zip_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's zip functions (AWS::Serverless::Function), by logical id, sorted: the
    handlers laid out on the shipped layer (the image function is not one)."""
    return {
        name: res["Properties"]
        for name, res in sorted(template["Resources"].items())
        if res["Type"] == "AWS::Serverless::Function"
    }


def shipped_layer(cache: Path = CACHE) -> Path:
    """The layer's python/ folder as `make build-SharedLayer` leaves it (bytecode included)."""
    artifacts = cache / "shipped-layer"
    requirements = _digest(LAYER_SOURCE / "requirements.txt", LAYER_SOURCE / "Makefile")
    package = _digest(LAYER_SOURCE / "nurture", LAYER_SOURCE / "Makefile")
    dependencies_done = artifacts / f".dependencies-{requirements}"
    package_done = artifacts / f".package-{package}-{requirements}"
    if not dependencies_done.exists():
        shutil.rmtree(artifacts, ignore_errors=True)
        _make("build-SharedLayer", artifacts)
        dependencies_done.touch()
    elif not package_done.exists():
        _make("layer-package", artifacts)
    for stale in artifacts.glob(".package-*"):
        stale.unlink()
    package_done.touch()
    return artifacts / "python"


def function_dir(name: str, code_uri: str, cache: Path = CACHE) -> Path:
    """/var/task: the function's code, plus its own requirements when it has some (pip
    --target, as sam build installs them)."""
    source = ROOT / code_uri
    requirements = source / "requirements.txt"
    if not requirements.exists():
        return source
    target = cache / "functions" / name
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:16]
    done = target / f".installed-{digest}"
    if not done.exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(  # noqa: S603 - pip on the repository's requirements file
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            + ["--target", str(target), "-r", str(requirements)],
            check=True,
            timeout=600,
        )
        done.touch()
    shutil.copy2(source / "app.py", target / "app.py")
    return target


def function_environment(
    props: dict[str, Any],
    template: dict[str, Any],
    *,
    stack: str = "nurture",
    region: str = "eu-west-1",
    account: str = "123456789012",
    tracing: bool = True,
    task_root: Path | None = None,
) -> dict[str, str]:
    """A function's variables as the template sets them (names for references), and what
    Lambda adds: its region, name and folder (LAMBDA_TASK_ROOT, which the X-Ray SDK reads
    to know it runs in Lambda), credentials and, with `tracing` (the template's
    `Tracing: Active`), the X-Ray daemon's address."""

    class Names(dict[Any, str]):
        def __missing__(self, key: Any) -> str:
            logical = key[0] if isinstance(key, tuple) else key
            if isinstance(key, tuple) and key[1] == "Arn":
                return f"arn:aws:lambda:{region}:{account}:function:{stack}-{logical}"
            return f"{stack}-{logical}"

    parameters = {n: str(p.get("Default", "")) for n, p in template["Parameters"].items()}
    parameters.update(SenderEmail="hello@example.com", PublicBaseUrl="https://news.example.com")
    pseudo = {
        "AWS::StackName": stack,
        "AWS::AccountId": account,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    resolver = Resolver(pseudo, Names(), Names(), parameters)
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **props.get("Environment", {}).get("Variables", {}),
    }
    env = {k: str(v) for k, v in resolver.resolve(variables).items()}
    env.update(
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        LANG="en_US.UTF-8",
        TZ=":UTC",
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        AWS_LAMBDA_FUNCTION_NAME=f"{stack}-{props['CodeUri'].split('/')[-1]}",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(props.get("MemorySize", 512)),
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        LAMBDA_TASK_ROOT=str(task_root or ROOT / props["CodeUri"]),
        LAMBDA_RUNTIME_DIR="/var/runtime",
        _HANDLER=str(props.get("Handler", "app.lambda_handler")),
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - a dummy
        AWS_SESSION_TOKEN="local",  # noqa: S106 - a dummy
    )
    if tracing:
        env.update(
            AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
            AWS_XRAY_DAEMON_ADDRESS="169.254.79.129:2000",
            _AWS_XRAY_DAEMON_ADDRESS="169.254.79.129",
            _AWS_XRAY_DAEMON_PORT="2000",
        )
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


@contextmanager
def secrets_server(
    stack: str = "nurture", region: str = "eu-west-1", template: dict[str, Any] | None = None
) -> Iterator[str]:
    """A moto server on loopback holding the stack's local secrets in Parameter Store, for
    handlers imported as Lambda runs them (their import-time reads hit it); its endpoint.
    With `template`, also the stack's DynamoDB tables (empty) and content bucket, under the
    names function_environment() gives them, for a handler's first call
    (bench/cold_import.py)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from localcloud.cloud import LOCAL_SECRETS

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    ssm = boto3.client(
        "ssm",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto's
    )
    for name, value in LOCAL_SECRETS.items():
        ssm.put_parameter(
            Name=f"/nurture/{stack}/{name}", Value=value, Type="SecureString", Overwrite=True
        )
    if template is not None:
        _stack_resources(
            template,
            stack,
            boto3.session.Session(
                region_name=region,
                aws_access_key_id="local",
                aws_secret_access_key="local",  # noqa: S106
            ),
            endpoint,
        )
    try:
        yield endpoint
    finally:
        server.stop()


def _stack_resources(template: dict[str, Any], stack: str, session: Any, endpoint: str) -> None:
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    s3 = session.client("s3", endpoint_url=endpoint)
    keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
    for logical, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::DynamoDB::Table":
            dynamodb.create_table(
                TableName=f"{stack}-{logical}",
                BillingMode="PAY_PER_REQUEST",
                **{k: props[k] for k in keys if k in props},
            )
            # (no stream: nothing consumes it here)
        elif res["Type"] == "AWS::S3::Bucket" and logical == "ContentBucket":
            s3.create_bucket(  # the BucketName template.yaml gives it
                Bucket=f"{stack}-content-123456789012-{session.region_name}",
                CreateBucketConfiguration={"LocationConstraint": session.region_name},
            )
