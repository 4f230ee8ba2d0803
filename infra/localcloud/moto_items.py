"""moto's per-item DynamoDB costs, bridged like moto_speed's (registered with its
`_replace`, so `moto_as_shipped()` puts moto's own code back; checked against it by
tests/integration/test_local_cloud_speed.py): an item's size check that re-summed the item
per attribute, condition expressions lexed and parsed anew on every call (twice per
conditional PutItem)."""

from __future__ import annotations

from typing import Any

from localcloud.moto_speed import _ORIGINALS, _replace


def install_item_speedups() -> None:
    """Idempotent; called by moto_speed.install_speedups."""
    _install_item_size_total()
    _install_condition_lexer_cache()
    _install_condition_parse_memo()


def _install_item_size_total() -> None:
    """An item's 400 KB check with a running total. moto's LimitedSizeDict re-sums the size
    of every attribute already stored each time one is added (quadratic in the attribute
    count; a fifth of a PutItem's CPU). Building an item (attributes from a dict: each key
    once), each new attribute is checked against the same sum, kept as it grows: the same
    ItemSizeTooLarge at the same point. Later changes (updates) keep moto's check."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    if (Item, "__init__") in _ORIGINALS:
        return

    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = stored = LimitedSizeDict()
        total = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            size = bytesize(key) + typed.size()
            if total + size > 405000:
                raise ItemSizeTooLarge
            dict.__setitem__(stored, key, typed)
            total += size

    _replace(Item, "__init__", init)


def _install_condition_lexer_cache() -> None:
    """moto lexes a condition or filter expression with six regular expressions per token,
    on every call: the tokens depend on the expression's text only (names and values are
    looked up after), so each text is lexed once. The parser consumes a copy."""
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser

    if (ConditionExpressionParser, "_lex_condition_expression") in _ORIGINALS:
        return
    original = ConditionExpressionParser._lex_condition_expression
    lexed: dict[str, tuple[Any, ...]] = {}

    def lex(self: Any) -> Any:
        text = self.condition_expression
        tokens = lexed.get(text) if isinstance(text, str) else None
        if tokens is None:
            tokens = tuple(original(self))  # raises as moto does for a text it cannot lex
            if isinstance(text, str) and len(lexed) < 4096:
                lexed[text] = tokens
        return deque(tokens)

    _replace(ConditionExpressionParser, "_lex_condition_expression", lex)


def _install_condition_parse_memo() -> None:
    """A conditional PutItem's expression is parsed twice by moto (the handler checks it,
    the backend parses it again), and callers repeat the same condition with the same values
    (a once-key, a version check). The syntax tree of the last texts seen with the same
    names and values (compared by their repr) is reused with the names and values it found:
    its operators only read them. Anything that fails to parse is parsed anew each time."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    if (ConditionExpressionParser, "parse") in _ORIGINALS:
        return
    original = ConditionExpressionParser.parse
    memo: dict[tuple[Any, str, str], tuple[Any, list[str], list[str]]] = {}

    def parse(self: Any) -> Any:
        if not isinstance(self.condition_expression, str):
            return original(self)
        key = (
            self.condition_expression,
            repr(self.expression_attribute_names),
            repr(self.expression_attribute_values),
        )
        found = memo.get(key)
        if found is None:
            op = original(self)
            if len(memo) >= 256:
                memo.clear()
            memo[key] = (op, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
            return op
        op, names, values = found
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        return op

    _replace(ConditionExpressionParser, "parse", parse)
