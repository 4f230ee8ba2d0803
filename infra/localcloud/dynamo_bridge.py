"""DynamoDB's data calls answered in process: moto's own handler and backend, without the
HTTP round trip (pinned to the moto and botocore versions in pyproject, like moto_speed).

Every AWS call of a function went through botocore's whole request path to reach moto:
SigV4 signing, an HTTP request built and prepared, moto rebuilding it as a werkzeug request
(`setup_class`: URL, query string, headers, region, account), parsing the JSON body against
the botocore shape, serializing the answer by walking the output shape, and botocore parsing
that JSON again: about three quarters of the CPU of a GetItem, the local HTTP API's
commonest call. botocore's `before-call` event may answer a call instead of sending it (how
its own Stubber works); this bridge does that for the DynamoDB data operations and the
DynamoDB Streams reads in `OPERATIONS` (the stream polling of localcloud.streams):

- the parameters moto sees are the ones it would parse from the wire: botocore's serialized
  JSON body, read back against the input shape as moto's JSON parser does (blobs decoded,
  numbers converted, nothing shared with the caller's dicts);
- moto's response handler method for the operation (`DynamoHandler`,
  `DynamoDBStreamsHandler`) runs on moto's backend (same checks, validation errors,
  conditions, stream records), under the faults' moto lock;
- a result is converted to what botocore's parser would return from moto's serialized JSON
  (the output shape's members, blobs as bytes, timestamps as botocore reads moto's,
  AttributeValues copied), with
  ResponseMetadata; an error is serialized by moto and parsed by botocore's own parser
  (with the modeled fields: an Item on ConditionalCheckFailed, CancellationReasons), so the
  caller gets the same ClientError.

What stays: the faults' before-call/after-call hooks run as before (call counting, timeouts,
crashes; each bridged call costs the invocation the faults' latency like a request does), and
a call that an error fault could hit takes the HTTP path, where faults are made per attempt
and botocore's retries decide; the metering's hooks; anything moto would not answer itself
(mock off, passthrough, IAM auth on, the recorder on, a non-AWS endpoint) goes over HTTP too.
`moto_as_shipped()` turns the bridge off with the other speed bridges, and
tests/integration/test_local_cloud_speed.py compares the two paths call by call.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

# The operations answered in process, per service (botocore's service name); the rest
# (table management, tags, backups...) go over HTTP.
OPERATIONS: dict[str, frozenset[str]] = {
    "dynamodb": frozenset(
        {
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "Scan",
            "BatchGetItem",
            "BatchWriteItem",
            "TransactWriteItems",
            "TransactGetItems",
            "BatchExecuteStatement",  # ingest's INSERTs (localcloud.partiql_bridge)
        }
    ),
    "dynamodbstreams": frozenset(
        {"DescribeStream", "GetShardIterator", "GetRecords", "ListStreams"}
    ),
}
_HOSTS = {  # the AWS hosts moto answers for each service
    "dynamodb": re.compile(r"^https://dynamodb\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/?$"),
    "dynamodbstreams": re.compile(
        r"^https://streams\.dynamodb\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/?$"
    ),
}
_TARGETS = {"dynamodb": "DynamoDB_20120810", "dynamodbstreams": "DynamoDBStreams_20120810"}
_ACCESS_KEY = re.compile(r"[A-Z0-9]{20}")
_switch = {"enabled": True}  # process-wide switch (moto_as_shipped)
counts = {"answered": 0}  # calls the bridge answered (tests check it did)
_request_ids = itertools.count(1)


def set_enabled(enabled: bool) -> bool:
    """Turn the bridge on or off; returns what it was."""
    before = _switch["enabled"]
    _switch["enabled"] = enabled
    return before


def install(events: Any) -> None:
    """Answer DynamoDB data calls of clients made from now on with this emitter (a
    session's or a client's `meta.events`). Registered last on `before-call`, so every
    other before-call handler (the faults', a test's counter) sees the call first."""
    from localcloud import endpoint_memo

    endpoint_memo.install()
    events.register_last("before-call", before_call, unique_id="nurture-dynamo-bridge")


def answering() -> bool:
    """Whether the bridge is on and moto is mocking (endpoint_memo asks)."""
    return _switch["enabled"] and bool(_m().stubber.enabled)


# --- the hook ------------------------------------------------------------------------
def before_call(
    model: Any, params: dict[str, Any], request_signer: Any, context: dict[str, Any], **_: Any
) -> Any:
    if not _switch["enabled"]:
        return None
    service = model.service_model.service_name
    operations = OPERATIONS.get(service)
    if operations is None or model.name not in operations:
        return None
    region = _route(service, params.get("url", ""))
    if region is None:
        return None
    from localcloud import faults

    current = faults._current()
    if current is not None:
        call = getattr(faults._tls, "call", None)
        if call is not None and call.source != "harness" and current.could_fail(call):
            return None  # the HTTP path: faults per attempt, botocore's retries
        inv = getattr(faults._tls, "invocation", None)
        if inv is not None:
            inv.elapsed += current.latency
    account, key = _account(request_signer)
    with current.moto_lock if current is not None else nullcontext():
        return answer(model, params, account, region, key)


class _Moto:
    """moto's pieces, imported on first use (moto loads with the local cloud, not before)."""

    def __init__(self) -> None:
        from moto import settings
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core import botocore_stubber as stubber_module
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.core.exceptions import HTTPException, ServiceException
        from moto.core.models import botocore_stubber
        from moto.core.responses import ActionResult
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.responses import DynamoHandler
        from moto.dynamodbstreams.models import dynamodbstreams_backends
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
        from moto.iam.models import mark_account_as_visited
        from moto.moto_api import recorder

        self.settings, self.stubber, self.stubber_module = (
            settings,
            botocore_stubber,
            stubber_module,
        )
        self.recorder, self.default_account = recorder, DEFAULT_ACCOUNT_ID
        self.authenticator, self.action_result = ActionAuthenticatorMixin, ActionResult
        self.errors = (ServiceException, HTTPException)
        self.mark_account_as_visited = mark_account_as_visited

        class Dynamo(DynamoHandler):  # the backend found once per call, not per access
            dynamodb_backend: Any = None

        class Streams(DynamoDBStreamsHandler):
            backend: Any = None

        self.handlers: dict[str, tuple[type[Any], str, Any]] = {
            "dynamodb": (Dynamo, "dynamodb_backend", dynamodb_backends),
            "dynamodbstreams": (Streams, "backend", dynamodbstreams_backends),
        }


_moto: list[_Moto] = []


def _m() -> _Moto:
    if not _moto:
        _moto.append(_Moto())
    return _moto[0]


def _route(service: str, url: str) -> str | None:
    """The region, when moto itself would answer a request to this URL now."""
    m = _m()
    if not m.stubber.enabled or not math.isinf(m.settings.INITIAL_NO_AUTH_ACTION_COUNT):
        return None
    if m.recorder._user_enabled:
        return None
    found = _HOSTS[service].match(url)
    if found is None:
        return None
    checks = m.stubber_module
    if checks.passthrough_url(url) or checks.passthrough_service(service):
        return None
    if not checks.service_whitelisted(service):
        return None
    return found.group("region")


def _account(request_signer: Any) -> tuple[str, str | None]:
    """The account moto takes the request for, and the access key it sees (None: a key that
    is not AWS-shaped, which moto reads as an unknown one): MOTO_ACCOUNT_ID, else the account
    the key belongs to, else the default account."""
    credentials = getattr(request_signer, "_credentials", None)
    key: str | None = getattr(credentials, "access_key", None) or ""
    if not _ACCESS_KEY.fullmatch(key or ""):
        key = None
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"], key
    if key is None:
        return str(_m().default_account), None
    from moto.iam.models import get_account_id_from

    return get_account_id_from(key), key


_methods: dict[str, str] = {}


# --- moto's handler, without HTTP ------------------------------------------------------
def answer(
    model: Any, params: dict[str, Any], account: str, region: str, key: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """(http response, parsed) as botocore would have them from moto over HTTP."""
    m = _m()
    service, operation = model.service_model.service_name, model.name
    counts["answered"] += 1
    handler_class, backend_attribute, backends = m.handlers[service]
    handler = handler_class()
    handler.current_account = account
    handler.region = region
    handler.headers = {
        "X-Amz-Target": f"{_TARGETS[service]}.{operation}",
        "Content-Type": "application/x-amz-json-1.0",
    }
    handler.querystring = {}
    handler.uri_match = {}
    handler.automated_parameter_parsing = True  # _get_param reads .params
    handler.response_headers = {"server": "amazon.com"}
    body = params.get("body") or b"{}"
    handler.params = handler.body = _reader(model)(json.loads(body))
    setattr(handler, backend_attribute, _backend(backends, account, region))
    m.authenticator.request_count += 1
    if key is not None:  # (an unknown key marks nothing)
        m.mark_account_as_visited(
            account_id=account, access_key=key, service=service, region=region
        )
    method = _methods.get(operation)
    if method is None:
        from moto.core.utils import camelcase_to_underscores

        method = _methods[operation] = camelcase_to_underscores(operation)
    action_result = m.action_result
    try:
        result = getattr(handler, method)()
    except m.errors[0] as error:
        status, headers, text = handler.serialized(action_result(error))
        return _parsed_http(model, params, status, headers, text)
    except m.errors[1] as error:
        headers = dict(error.get_headers() or [])
        return _parsed_http(model, params, int(error.code or 500), headers, error.description)
    if isinstance(result, action_result) and (
        type(result).execute_result is action_result.execute_result
    ):
        try:
            parsed = _writer(model)(result.result)
        except _Unsupported:
            parsed = None
        if parsed is not None:
            return _ok(params, parsed)
    # anything else: moto serializes it, botocore parses it
    if isinstance(result, action_result):
        status, headers, text = handler.serialized(result)
    elif isinstance(result, str):
        status, headers, text = 200, handler.response_headers, result
    else:
        status, headers, text = handler._transform_response(handler.response_headers, result)
    return _parsed_http(model, params, status, headers, text)


def _backend(backends: Any, account: str, region: str) -> Any:
    """`backends[account][region]` without moto's per-lookup bookkeeping: BackendDict's
    `__getitem__` creates a missing account's backends and then checks, comparing it with each
    BackendDict in use (dozens), that it is registered for moto's reset - every call. An
    account already there was registered when it was added (a reset empties both), so it is
    looked up as the dict it is."""
    found = dict.get(backends, account)
    return (found if found is not None else backends[account])[region]


def _ok(params: dict[str, Any], parsed: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from botocore.awsrequest import AWSResponse

    request_id = f"LOCAL{next(_request_ids):047d}"
    headers = {
        "server": "amazon.com",
        "x-amzn-requestid": request_id,
        "content-type": "application/x-amz-json-1.0",
    }
    parsed["ResponseMetadata"] = {
        "RequestId": request_id,
        "HTTPStatusCode": 200,
        "HTTPHeaders": headers,
        "RetryAttempts": 0,
    }
    return AWSResponse(params.get("url"), 200, headers, None), parsed


def _parsed_http(
    model: Any, params: dict[str, Any], status: int, headers: Any, text: Any
) -> tuple[Any, dict[str, Any]]:
    """What botocore's endpoint makes of moto's HTTP answer (the error path, and results
    the quick conversion does not handle)."""
    from botocore.awsrequest import AWSResponse
    from botocore.endpoint import Endpoint, convert_to_response_dict
    from botocore.parsers import create_parser
    from moto.core.botocore_stubber import MockRawResponse
    from moto.utilities.aws_headers import gen_amz_crc32, gen_amzn_requestid_long

    headers = {str(k): str(v) for k, v in dict(headers).items()}
    headers.pop("status", None)
    gen_amzn_requestid_long(headers)
    gen_amz_crc32(text if text is not None else "", headers)
    http = AWSResponse(params.get("url"), int(status), headers, MockRawResponse(text or b""))
    response = convert_to_response_dict(http, model)
    parser = create_parser(model.metadata["protocol"])
    parsed = parser.parse(response, model.output_shape)
    if http.status_code >= 300:
        Endpoint._add_modeled_error_fields(None, response, parsed, model, parser)  # type: ignore[arg-type]
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return http, parsed


# --- shapes: reading the request as moto's parser does ------------------------------------
class _Unsupported(Exception):
    """A value the quick conversion does not handle: moto's serializer and botocore's
    parser answer instead."""


_readers: dict[Any, Callable[[Any], Any]] = {}
_writers: dict[Any, Callable[[Any], Any]] = {}
_PLAIN = {"S": str, "N": str, "BOOL": bool, "NULL": bool}


def _plain_copy(value: Any) -> Any:
    """A copy of an AttributeValue in plain wire form (one type key; strings, booleans, lists
    and maps of such; no binary), or None if it is not one."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    plain = _PLAIN.get(kind)
    if plain is not None:
        return value if type(inner) is plain else None  # immutable inside: no copy needed
    if kind in ("SS", "NS"):
        if type(inner) is list and all(type(v) is str for v in inner):
            return {kind: list(inner)}
        return None
    if kind == "L":
        if type(inner) is not list:
            return None
        items = [_plain_copy(v) for v in inner]
        return None if any(i is None for i in items) else {"L": items}
    if kind == "M":
        if type(inner) is not dict:
            return None
        members = {}
        for k, v in inner.items():
            copied = _plain_copy(v)
            if copied is None or type(k) is not str:
                return None
            members[k] = copied
        return {"M": members}
    return None


def _reader(model: Any) -> Callable[[Any], Any]:
    shape = model.input_shape
    found = _readers.get(shape)
    if found is None:
        found = _readers[shape] = _read(shape, {})
    return found


def _read(shape: Any, made: dict[str, Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """moto's JSON request parser (moto.core.parse.BaseJSONParser) for one shape, made once.
    The JSON comes from json.loads, so it is not shared with anything."""
    from moto.core.parse import default_blob_parser, default_timestamp_parser

    kind = shape.type_name
    if shape.name in made and kind in ("structure", "list", "map"):
        return made[shape.name]
    if kind == "structure":
        if shape.is_document_type:
            return _same
        members: list[tuple[str, str, Callable[[Any], Any]]] = []
        attribute_value = shape.name == "AttributeValue"

        def structure(value: Any) -> Any:
            if value is None:
                return None
            if attribute_value and _plain_copy(value) is not None:
                return value  # the parser's walk gives an equal dict
            out = {}
            for name, json_name, read in members:
                raw = value.get(json_name)
                if raw is not None:
                    out[name] = read(raw)
            return out

        made[shape.name] = structure
        for name, member in shape.members.items():
            members.append((name, member.serialization.get("name", name), _read(member, made)))
        return structure
    if kind == "list":

        def listing(value: Any) -> Any:
            return [read_member(item) for item in value]

        made[shape.name] = listing
        read_member = _read(shape.member, made)
        return listing
    if kind == "map":

        def mapping(value: Any) -> Any:
            return {read_key(k): read_value(v) for k, v in value.items()}

        made[shape.name] = mapping
        read_key, read_value = _read(shape.key, made), _read(shape.value, made)
        return mapping
    if kind == "blob":
        return default_blob_parser  # type: ignore[no-any-return]
    if kind == "timestamp":
        return default_timestamp_parser
    if kind in ("float", "double"):
        return float
    if kind in ("integer", "long", "byte", "short"):
        return int
    return _same


def _same(value: Any) -> Any:
    return value


# --- shapes: the result as botocore parses moto's serialized JSON ---------------------------
def _writer(model: Any) -> Callable[[Any], Any]:
    shape = model.output_shape
    found = _writers.get(shape)
    if found is None:
        found = _writers[shape] = _write(shape, {}) if shape is not None else (lambda _: {})
    return found


def _write(shape: Any, made: dict[str, Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """moto's JSON serializer (moto.core.serialize.BaseJSONSerializer, with moto_speed's
    AttributeValue passthrough) followed by botocore's JSON parser, for one shape. Results
    are dicts here; anything else raises _Unsupported (the slow path answers)."""
    from botocore import xform_name

    kind = shape.type_name
    if shape.name in made and kind in ("structure", "list", "map"):
        return made[shape.name]
    if kind == "structure":
        if shape.is_document_type:
            raise _Unsupported(shape.name)
        members: list[tuple[str, str, Callable[[Any], Any]]] = []
        attribute_value = shape.name == "AttributeValue"
        missing = object()

        def structure(value: Any) -> Any:
            if type(value) is not dict:
                raise _Unsupported(shape.name)
            if attribute_value:
                copied = _plain_copy(value)
                if copied is not None:
                    return copied
            out = {}
            for name, snake, write in members:
                member = value.get(name, missing)
                if member is missing:
                    member = value.get(snake)
                if member is not None:
                    out[name] = write(member)
            return out

        made[shape.name] = structure
        for name, member in shape.members.items():
            members.append((name, xform_name(name), _write(member, made)))
        return structure
    if kind == "list":

        def listing(value: Any) -> Any:
            if type(value) is not list:
                raise _Unsupported(shape.name)
            out = []
            for item in value:
                if item is None:
                    raise _Unsupported(shape.name)
                out.append(write_member(item))
            return out

        made[shape.name] = listing
        write_member = _write(shape.member, made)
        return listing
    if kind == "map":

        def mapping(value: Any) -> Any:
            if type(value) is not dict:
                raise _Unsupported(shape.name)
            out = {}
            for k, v in value.items():
                if type(k) is not str or v is None:
                    raise _Unsupported(shape.name)
                out[k] = write_value(v)
            return out

        made[shape.name] = mapping
        write_value = _write(shape.value, made)
        return mapping
    if kind == "blob":
        return _blob
    if kind == "string":
        return _string
    if kind in ("float", "double"):
        return float
    if kind in ("integer", "long"):
        return int
    if kind == "boolean":
        return _boolean
    if kind == "timestamp":
        return _timestamp(shape.serialization.get("timestampFormat", "unixtimestamp"))
    raise _Unsupported(shape.name)


def _timestamp(form: str) -> Callable[[Any], Any]:
    """moto writes a datetime in the shape's format (epoch seconds by default), botocore
    reads it back with its default timestamp parser."""
    from botocore.parsers import DEFAULT_TIMESTAMP_PARSER
    from moto.core.serialize import TimestampSerializer

    writer = TimestampSerializer(form)

    def timestamp(value: Any) -> Any:
        if value is None or isinstance(value, dict | list):
            raise _Unsupported("timestamp")
        return DEFAULT_TIMESTAMP_PARSER(writer._convert_timestamp_to_str(value, form))

    return timestamp


def _blob(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise _Unsupported("blob")


def _string(value: Any) -> Any:
    if type(value) is str:
        return value
    raise _Unsupported("string")


def _boolean(value: Any) -> Any:
    if type(value) is bool:
        return value
    raise _Unsupported("boolean")
