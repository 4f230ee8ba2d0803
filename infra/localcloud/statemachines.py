"""The template's fixed workflows (`AWS::Serverless::StateMachine`, definitions in
`statemachines/*.asl.json`) and log groups, brought up on moto as CloudFormation would.

A definition's `${Name}` placeholders are filled from `DefinitionSubstitutions` (resolved like
any other template value); the machine is then created through Step Functions' own API, so AWS's
ASL validation (localcloud.asl_validation) refuses a definition AWS would refuse."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from localcloud.constants import ACCOUNT, REGION
from localcloud.template import Resolver

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


class TemplateError(ValueError):
    """A resource the local cloud cannot bring up as the template describes it."""


def state_machine_names(
    logical: str, props: dict[str, Any], physical: str, resolver: Resolver
) -> tuple[str, dict[tuple[str, str], str]]:
    """Ref (the ARN, as for AWS::StepFunctions::StateMachine) and attributes of a machine."""
    name = str(resolver.resolve(props.get("Name", physical)))
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    return arn, {(logical, "Arn"): arn, (logical, "Name"): name}


def definition_text(root: Path, logical: str, props: dict[str, Any], resolver: Resolver) -> str:
    """The definition CloudFormation would send: the file (or inline `Definition`) with every
    `${Name}` replaced by its DefinitionSubstitutions value."""
    if "Definition" in props:
        text = json.dumps(resolver.resolve(props["Definition"]))
    elif isinstance(props.get("DefinitionUri"), str):
        path = root / props["DefinitionUri"]
        if not path.is_file():
            raise TemplateError(f"{logical}: DefinitionUri {props['DefinitionUri']} not found")
        text = path.read_text()
    else:
        raise TemplateError(f"{logical}: give Definition or a local DefinitionUri")
    values = {
        k: str(v) for k, v in resolver.resolve(props.get("DefinitionSubstitutions", {})).items()
    }

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise TemplateError(f"{logical}: ${{{key}}} has no DefinitionSubstitutions entry")
        # Inside a JSON string: escape the value as JSON would.
        return json.dumps(values[key])[1:-1]

    return _PLACEHOLDER.sub(fill, text)


def create_state_machine(
    sfn: Any, props: dict[str, Any], name: str, definition: str, role_arn: str, resolver: Resolver
) -> str:
    """Create the machine through the Step Functions API (validated as AWS validates). Only
    the properties Step Functions takes are resolved (Events may name what is not local)."""
    props = resolver.resolve({k: props[k] for k in ("Type", "Logging", "Tracing") if k in props})
    kwargs: dict[str, Any] = {
        "name": name,
        "definition": definition,
        "roleArn": role_arn,
        "type": str(props.get("Type", "STANDARD")).upper(),
    }
    logging = props.get("Logging")
    if logging:
        kwargs["loggingConfiguration"] = {
            "level": logging.get("Level", "OFF"),
            "includeExecutionData": bool(logging.get("IncludeExecutionData", False)),
            "destinations": [
                {
                    "cloudWatchLogsLogGroup": {
                        "logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]
                    }
                }
                for d in logging.get("Destinations", [])
            ],
        }
    if props.get("Tracing"):
        kwargs["tracingConfiguration"] = {"enabled": bool(props["Tracing"].get("Enabled"))}
    return str(sfn.create_state_machine(**kwargs)["stateMachineArn"])


def log_group_names(props: dict[str, Any], physical: str, resolver: Resolver) -> tuple[str, str]:
    """Ref (the name) and Arn (ending in ':*', as CloudFormation gives it) of a log group."""
    name = str(resolver.resolve(props.get("LogGroupName", physical)))
    return name, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"


def create_log_group(logs: Any, name: str, props: dict[str, Any]) -> None:
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
