"""EventBridge rules of the template's functions (`EventBridgeRule` events) for the events
AWS services emit that the local cloud knows about: Step Functions' "Execution Status
Change" when a program's execution ends. The rule's pattern is matched as EventBridge
matches it (exact values, `prefix`, nested `detail`), and the function is invoked
asynchronously, as EventBridge does."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

from localcloud.constants import ACCOUNT, REGION


def matches(pattern: Any, value: Any) -> bool:
    """EventBridge content matching for the forms templates use."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(matches(p, value.get(k)) for k, p in pattern.items())
    if isinstance(pattern, list):
        for option in pattern:
            if isinstance(option, dict) and "prefix" in option:
                if isinstance(value, str) and value.startswith(str(option["prefix"])):
                    return True
            elif option == value:
                return True
        return False
    return bool(pattern == value)


def _millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def execution_ended(cloud: LocalCloud, execution_arn: str) -> None:
    """Deliver the "Execution Status Change" event of an ended execution to matching rules."""
    described = cloud.client("stepfunctions").describe_execution(executionArn=execution_arn)
    detail = {
        "executionArn": execution_arn,
        "stateMachineArn": described.get("stateMachineArn"),
        "name": described.get("name"),
        "status": described.get("status"),
        # moto stamps executions with the real clock; the run ended now in virtual time
        "stopDate": _millis(cloud.clock.now()),
        "input": described.get("input"),
        "output": described.get("output"),
        "error": described.get("error"),
        "cause": described.get("cause"),
    }
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "region": REGION,
        "time": cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [execution_arn],
        "detail": detail,
    }
    for fn in list(cloud.functions.values()):
        for ev in fn.events.values():
            if ev["Type"] == "EventBridgeRule" and matches(ev["Properties"]["Pattern"], event):
                cloud.invoke_async(fn.logical_id, json.loads(json.dumps(event, default=str)))
