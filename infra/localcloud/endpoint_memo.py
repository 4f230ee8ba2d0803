"""The endpoint of a DynamoDB call that dynamo_bridge answers, resolved once per table.

botocore resolves every call's endpoint from the service's rule set: it gathers nine
parameters (region, FIPS, dual stack, the account id and its mode, the table's ARN or the
tables of a batch, ...) through its context and builtin lookups and runs the rules on them,
about a sixth of the CPU of a bridged GetItem. For the services dynamo_bridge answers, with
moto on and the bridge on, the answer is kept per client resolver, operation, the values
the operation's rules read from its parameters (`TableName`, a batch's table names: the
operation's context parameters, found as botocore finds them) and the credentials' account
id; any other call, or one that fails to resolve, is resolved by botocore as shipped.
`moto_as_shipped()` turns it off with the bridge.
"""

from __future__ import annotations

import json
from typing import Any

_installed: list[bool] = []


def install() -> None:
    """Idempotent; called by dynamo_bridge.install."""
    if _installed:
        return
    import jmespath
    from botocore.regions import EndpointResolverBuiltins, EndpointRulesetResolver

    from localcloud import dynamo_bridge

    original = EndpointRulesetResolver.construct_endpoint
    account_id = EndpointResolverBuiltins.ACCOUNT_ID

    def construct_endpoint(
        self: Any, operation_model: Any, call_args: Any, request_context: Any
    ) -> Any:
        service = operation_model.service_model.service_name
        if service not in dynamo_bridge.OPERATIONS or not dynamo_bridge.answering():
            return original(self, operation_model, call_args, request_context)
        if _customized(self, operation_model):
            return original(self, operation_model, call_args, request_context)
        args = call_args or {}
        read: list[Any] = [operation_model.name]
        for param in operation_model.context_parameters:
            read.append(args.get(param.member_name))
        paths = operation_model.operation_context_parameters
        for spec in paths.values() if isinstance(paths, dict) else ():
            read.append(json.dumps(jmespath.search(spec["path"], args), default=repr))
        builtin = self._builtins.get(account_id)
        read.append(builtin() if callable(builtin) else builtin)
        key = tuple(read)
        memo: dict[Any, Any] = self.__dict__.setdefault("_nurture_endpoints", {})
        found = memo.get(key)
        if found is None:
            found = original(self, operation_model, call_args, request_context)
            if len(memo) < 1024:
                memo[key] = found
        return found._replace(headers=dict(found.headers), properties=dict(found.properties))

    EndpointRulesetResolver.construct_endpoint = construct_endpoint  # type: ignore[method-assign]
    _installed.append(True)


def _customized(resolver: Any, operation_model: Any) -> bool:
    """Whether something hooks the resolution's builtins for this service (botocore's
    Stubber does): then botocore resolves every call itself."""
    name = f"before-endpoint-resolution.{operation_model.service_model.service_id.hyphenize()}"
    emitter = getattr(resolver._event_emitter, "_emitter", resolver._event_emitter)
    try:
        return bool(emitter._handlers.prefix_search(name))
    except AttributeError:  # not botocore's emitter as we know it
        return True
