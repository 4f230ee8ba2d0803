"""moto's slow spots, bridged so the local cloud keeps its pace as data grows (pinned to the
moto version in pyproject, like moto_patches).

moto 5.2.5 makes several calls cost as much as the data already stored: a transaction
deep-copies every table it touches (to roll back), a table query sorts the whole table to
find one partition, and finding an execution walks every execution of its machine; and the
local cloud's observer read every open execution's history on each pump. Each bridge keeps
the call's answer and semantics (tests/integration/test_local_cloud_speed.py checks them
against moto's own code, `moto_as_shipped()`) and makes its cost independent of the rest
of the data. Two more cut the fixed cost of every call: AttributeValues already in wire
form skip moto's shape walk, and a response class's method list is made once.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import weakref
from collections.abc import Iterator
from typing import Any

_ORIGINALS: dict[tuple[Any, str], Any] = {}  # what the speed bridges replaced


def _replace(owner: Any, name: str, new: Any) -> None:
    _ORIGINALS.setdefault((owner, name), owner.__dict__[name])
    setattr(owner, name, new)


@contextlib.contextmanager
def moto_as_shipped() -> Iterator[None]:
    """moto's own code in place of the speed bridges, and every DynamoDB call over HTTP
    (dynamo_bridge off), for the differential tests that check a bridge answers as moto does."""
    from localcloud import dynamo_bridge

    saved = {key: key[0].__dict__[key[1]] for key in _ORIGINALS}
    for (owner, name), original in _ORIGINALS.items():
        setattr(owner, name, original)
    bridged = dynamo_bridge.set_enabled(False)  # every DynamoDB call over HTTP, too
    try:
        yield
    finally:
        dynamo_bridge.set_enabled(bridged)
        for (owner, name), new in saved.items():
            setattr(owner, name, new)


def install_speedups() -> None:
    """Idempotent; called by install_moto_fixes."""
    _install_transaction_journal()
    _install_partition_query()
    _install_execution_index()
    _install_history_marks()
    _install_attribute_value_passthrough()
    _install_method_names_cache()
    _install_json_path_cache()
    _install_handler_cache()
    from localcloud.moto_items import install_item_speedups

    install_item_speedups()


def _install_transaction_journal() -> None:
    """TransactWriteItems, all or nothing, without copying whole tables: the items a
    transaction touches are saved before each write and put back (with the stream trimmed
    to where it was) when any part fails. The checks, their order and the errors are
    moto's: one operation per item, conditions evaluated against the state before the
    transaction (no two operations may name one item), ConditionalCheckFailed with
    ALL_OLD, TransactionCanceledException with a reason per operation."""
    import copy

    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    if getattr(DynamoDBBackend, "_nurture_journal", False):
        return

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        journal: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, item before)
        streams: dict[int, tuple[Any, int]] = {}  # id(table) -> (shard, records before)

        def save(table: Any, key: dict[str, Any]) -> None:
            if id(table) not in streams:
                shard = table.stream_shard
                streams[id(table)] = (shard, len(shard.items) if shard is not None else 0)
            try:
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = (
                    DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                )
                before = table.get_item(hash_value, range_value)
            except Exception:  # noqa: BLE001 - a malformed key: the write fails on its own
                return
            journal.append((table, hash_value, range_value, copy.deepcopy(before)))

        def roll_back() -> None:
            for table, hash_value, range_value, before in reversed(journal):
                if range_value is not None:
                    partition = table.items[hash_value]
                    if before is None:
                        partition.pop(range_value, None)
                    else:
                        partition[range_value] = before
                elif before is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = before
            for shard, length in streams.values():
                if shard is not None:
                    del shard.items[length:]

        target_items: set[tuple[str, str]] = set()

        def check_unicity(table_name: str, key: dict[str, Any]) -> None:
            item = (str(table_name), str(dict(sorted(key.items()))))
            if item in target_items:
                raise MultipleTransactionsException()
            target_items.add(item)

        errors: list[tuple[Any, Any, Any]] = []
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                check_unicity(table_name, key)
                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = get_filter_expression(condition_expression, names, values)
                    if not condition_op.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                if op_type != "ConditionCheck":
                    save(self.get_table(table_name), key)
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                roll_back()
                raise
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))
            except Exception as e:  # noqa: BLE001 - moto reports any other failure per item
                errors.append((type(e).__name__, str(e), original_item))
        if any(code is not None for code, _, _ in errors):
            roll_back()
            raise TransactionCanceledException(errors)

    _replace(DynamoDBBackend, "transact_write_items", transact_write_items)
    DynamoDBBackend._nurture_journal = True  # type: ignore[attr-defined]


_partition = threading.local()


def _install_partition_query() -> None:
    """A query on a table's key reads that partition only. moto builds and sorts a list of
    every item of the table to pick out one partition; the items it then sorts, filters,
    pages and limits are the same partition either way (queries on an index keep moto's
    path: their partitions are not stored apart)."""
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_nurture_partition_query", False):
        return
    original_query = Table.query
    original_all_items = Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _partition.key = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _partition.key = None

    def all_items(self: Any) -> Any:
        wanted = getattr(_partition, "key", None)
        if wanted is None or wanted[0] is not self:
            return original_all_items(self)
        _partition.key = None  # once: what the query itself asked for
        found = self.items.get(wanted[1]) if wanted[1] in self.items else None
        if found is None:
            return []
        if self.range_key_attr:
            return list(found.values())  # the query sorts them by range key
        return [found]

    _replace(Table, "query", query)
    _replace(Table, "all_items", all_items)
    Table._nurture_partition_query = True  # type: ignore[attr-defined]


def _install_execution_index() -> None:
    """DescribeExecution (and GetExecutionHistory, which moto answers through it) finds the
    execution by its ARN in a dict kept beside moto's list, not by walking every execution
    the machine ever ran. The ARN is still checked and the machine still looked up."""
    from moto.stepfunctions.models import StepFunctionBackend

    if getattr(StepFunctionBackend, "_nurture_execution_index", False):
        return
    original = StepFunctionBackend.describe_execution

    def describe_execution(self: Any, execution_arn: str) -> Any:
        index: dict[str, Any] = self.__dict__.setdefault("_nurture_executions", {})
        found = index.get(execution_arn)
        if found is None:
            found = original(self, execution_arn)
            index[execution_arn] = found
            return found
        self._validate_execution_arn(execution_arn)
        self._get_state_machine_for_execution(execution_arn)
        return found

    _replace(StepFunctionBackend, "describe_execution", describe_execution)
    StepFunctionBackend._nurture_execution_index = True  # type: ignore[attr-defined]


_grown_histories: weakref.WeakSet[Any] = weakref.WeakSet()


def _install_history_marks() -> None:
    """Mark an execution's history as grown when moto adds an event to it (HistoryWatch)."""
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    if getattr(EventManager, "_nurture_marked", False):
        return
    original = EventManager.add_event

    def add_event(self: Any, *args: Any, **kwargs: Any) -> int:
        _grown_histories.add(self)
        return int(original(self, *args, **kwargs))

    EventManager.add_event = add_event  # type: ignore[method-assign]
    EventManager._nurture_marked = True  # type: ignore[attr-defined]


class HistoryWatch:
    """Which of the executions the local cloud follows have new history events, so the
    observer reads only those histories instead of every open execution's on each pump.
    An execution whose interpreter has not made its history yet counts as changed."""

    def __init__(self) -> None:
        self._known = 0  # how many of the followed executions are registered
        self._order: dict[str, int] = {}  # arn -> registration order
        self._arn_of: dict[int, str] = {}  # id(history) -> arn
        self._histories: dict[str, Any] = {}  # arn -> the history (kept alive while followed)
        self._pending: list[str] = []  # registered, history not made yet

    def changed(self, followed: dict[str, Any]) -> list[str]:
        """The ARNs (of `followed`, in the order they were added) whose history grew since
        the last call; each is reported before it is read, so nothing added later is lost."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        from localcloud.constants import ACCOUNT, REGION

        for arn in itertools.islice(followed, self._known, None):
            self._order[arn] = len(self._order)
            self._pending.append(arn)
        self._known = len(followed)
        out: set[str] = set()
        if self._pending:
            backend = stepfunctions_parser_backends[ACCOUNT][REGION]
            waiting = []
            for arn in self._pending:
                history = _history_of(backend, arn)
                if history is None:
                    waiting.append(arn)
                    out.add(arn)
                else:
                    self._histories[arn] = history
                    self._arn_of[id(history)] = arn
                    _grown_histories.add(history)
            self._pending = waiting
        # Histories of executions nobody follows are dropped too: one that becomes followed
        # is marked again when it is resolved above, so nothing is missed.
        for history in list(_grown_histories):
            _grown_histories.discard(history)
            grown = self._arn_of.get(id(history))
            if grown is not None and self._histories.get(grown) is history:
                out.add(grown)
        for arn in out:
            if arn in followed and followed[arn].get("done") and arn in self._histories:
                self._arn_of.pop(id(self._histories.pop(arn)), None)
        return sorted(out, key=self._order.__getitem__)


def _history_of(backend: Any, arn: str) -> Any:
    try:
        worker = backend.describe_execution(arn).exec_worker
    except Exception:  # noqa: BLE001 - not an execution of this account/region: read it
        return None
    env = getattr(worker, "env", None)
    return getattr(env, "event_manager", None)


_PLAIN_TYPES = {"S": str, "N": str, "BOOL": bool, "NULL": bool}


def _plain_attribute_value(value: Any) -> bool:
    """An AttributeValue already in its wire form with nothing for moto's serializer to
    change: one type key, strings, booleans, lists and maps of such (binary values, which
    it base64-encodes, take moto's path)."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    plain = _PLAIN_TYPES.get(kind)
    if plain is not None:
        return type(inner) is plain
    if kind in ("SS", "NS"):
        return type(inner) is list and all(type(v) is str for v in inner)
    if kind == "L":
        return type(inner) is list and all(_plain_attribute_value(v) for v in inner)
    if kind == "M":
        return type(inner) is dict and all(
            type(k) is str and _plain_attribute_value(v) for k, v in inner.items()
        )
    return False


def _install_attribute_value_passthrough() -> None:
    """moto serializes every response by walking the botocore shape, and an item is a map
    of AttributeValue structures of ten members each: most of the CPU of a GetItem, a Query
    or a stream's GetRecords went there. An AttributeValue that is already plain wire JSON
    (see _plain_attribute_value) is written as it is: the same bytes the walk produces."""
    from moto.core.serialize import BaseJSONSerializer

    if getattr(BaseJSONSerializer, "_nurture_passthrough", False):
        return
    original = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and _plain_attribute_value(value):
            serialized[self.get_serialized_name(shape, key)] = value
            return
        original(self, serialized, value, shape, key)

    _replace(BaseJSONSerializer, "_serialize_type_structure", serialize_structure)
    BaseJSONSerializer._nurture_passthrough = True  # type: ignore[attr-defined]


def _install_method_names_cache() -> None:
    """moto lists a response class's methods (inspect.getmembers) on every request to find
    the action's handler: the list is kept per class, and made again if the class gains
    or loses an attribute (the bridges above add handlers)."""
    from moto.core import responses

    if getattr(responses, "_nurture_method_names", False):
        return
    original = responses.method_names_from_class
    cache: dict[tuple[Any, int], list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        key = (clazz, sum(len(c.__dict__) for c in clazz.__mro__))
        names = cache.get(key)
        if names is None:
            names = cache[key] = original(clazz)
        return list(names)

    responses.method_names_from_class = method_names_from_class
    responses._nurture_method_names = True  # type: ignore[attr-defined]


def stream_length(stream_arn: str) -> int | None:
    """How many records moto holds on the stream's shard (None if that cannot be told):
    the event source mappings skip the GetShardIterator/GetRecords calls of a stream that
    gained nothing since they last read it empty (localcloud.streams)."""
    from moto.dynamodb.models import dynamodb_backends

    try:
        _, _, _, region, account, resource = stream_arn.split(":", 5)
        table = dynamodb_backends[account][region].get_table(resource.split("/")[1])
        shard = table.stream_shard
        return None if shard is None else len(shard.items)
    except Exception:  # noqa: BLE001 - not a stream moto holds: poll it as usual
        return None


def _install_json_path_cache() -> None:
    """Step Functions' JSONPath: moto's `extract_json` builds a jsonpath_ng parser (PLY: a
    lexer and LALR tables) for every path it evaluates, every time; a state machine's paths
    are few and fixed, so each is parsed once. The parsed expression is only read by `find`."""
    import functools

    from moto.stepfunctions.parser.asl.utils import json_path

    if (json_path, "parse") in _ORIGINALS:
        return
    _replace(json_path, "parse", functools.lru_cache(maxsize=4096)(json_path.parse))  # type: ignore[arg-type]


def _install_handler_cache() -> None:
    """Which moto handler answers a URL, found once per URL. moto's stubber, for every
    request, walks its ~180 service URL patterns, looks the service's backend up for the
    default account (moto's BackendDict: a lock and an account check, ~0.2 ms), rebuilds the
    backend's URL map and matches each of its patterns: about a third of a millisecond of CPU
    per AWS call, a quarter of what a DynamoDB call costs in all. The handlers found are
    the services' stateless dispatch functions (the same whichever backend holds the data),
    so the one found for a URL answers every later request to it; the checks moto makes per
    request (passthrough, whitelist) are still made per request."""
    import re

    from moto.core import botocore_stubber as stubber
    from moto.core.exceptions import HTTPException

    cls = stubber.BotocoreStubber
    if (cls, "process_request") in _ORIGINALS:
        return
    shipped = cls.process_request
    found: dict[str, tuple[str, Any]] = {}

    def resolve(clean_url: str) -> tuple[str, Any] | None:
        import moto.backends as backends
        from moto.core import DEFAULT_ACCOUNT_ID

        for service, pattern in stubber.backend_index.backend_url_patterns:
            if not pattern.match(clean_url):
                continue
            if stubber.passthrough_service(service) or not stubber.service_whitelisted(service):
                return None  # moto's own code answers (passes through, or refuses)
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, stubber.BackendDict):
                regions = backend_dict[DEFAULT_ACCOUNT_ID]
                backend = regions["us-east-1" if "us-east-1" in regions else "aws"]
            else:
                backend = backend_dict["global"]
            for url, method_to_execute in backend.urls.items():
                if re.compile(url).match(clean_url):
                    return service, method_to_execute
            return None  # a service URL no handler matches: moto's own answer
        return None

    def process_request(self: Any, request: Any) -> Any:
        parsed_url, _ = stubber.get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        hit = found.get(clean_url)
        if hit is None:
            if stubber.passthrough_url(clean_url):
                return None
            hit = resolve(clean_url)
            if hit is None:
                return shipped(self, request)
            found[clean_url] = hit
        service, method_to_execute = hit
        if stubber.passthrough_url(clean_url) or stubber.passthrough_service(service):
            return None
        if not stubber.service_whitelisted(service):
            raise stubber.ServiceNotWhitelisted(service)
        from moto.moto_api import recorder

        normalized_request = stubber.normalize_request(request)
        try:
            recorder._record_request(normalized_request)
            status, headers, body = method_to_execute(
                normalized_request, normalized_request.raw_url, normalized_request.headers
            )
        except HTTPException as e:
            status, headers, body = e.code, e.get_headers(), e.get_body()
        return status, headers, body

    _replace(cls, "process_request", process_request)
