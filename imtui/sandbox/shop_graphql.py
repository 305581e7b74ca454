"""The sandbox shop's Admin GraphQL face: ``POST /admin/api/{version}/graphql.json``.

Every request is parsed and validated with graphql-core against ``shopify.graphql`` (a subset
of Shopify's own schema, so a query the real API rejects fails here too), priced by Shopify's
cost rules, checked against the shop's cost bucket, then executed by resolvers over the same
:class:`~imtui.sandbox.shop.FakeShop` state the REST endpoints use. docs/sandbox-contract.md
describes the shapes.

Cost rules (Shopify's, roughly): a scalar or enum is free, an object costs 1, a connection
costs 2 plus ``first``/``last`` times the cost of one node, a mutation costs 10. The requested
cost is reserved from the bucket before running; the actual cost (counted over what came back)
is what the bucket keeps.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLDirective,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    execute_sync,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_directive_values, get_variable_values

if TYPE_CHECKING:
    from graphql.execution.values import VariableValues  # graphql-core 3.3 (3.2: a plain dict)

MAX_QUERY_COST = 1000
"""Shopify's single-query ceiling, whatever the bucket."""
MAX_PAGE = 250
MUTATION_COST = 10

SCOPES: dict[str, str] = {
    "orders": "read_orders",
    "order": "read_orders",
    "fulfillmentCreate": "write_merchant_managed_fulfillment_orders",
    "productVariants": "read_products",
    "inventoryItems": "read_inventory",
    "inventorySetQuantities": "write_inventory",
    "locations": "read_locations",
    "location": "read_locations",
}
"""The access scope each root field needs (``FakeShop.missing_scopes`` takes them away)."""

THROTTLED_DOC = "https://shopify.dev/api/usage/rate-limits"


def load_schema() -> GraphQLSchema:
    text = resources.files("imtui.sandbox").joinpath("shopify.graphql").read_text("utf-8")
    return build_schema(text)


SCHEMA = load_schema()


def _directive(name: str) -> GraphQLDirective:
    found = SCHEMA.get_directive(name)
    if found is None:
        raise LookupError(f"the sandbox schema has no @{name}")
    return found


IDEMPOTENT = _directive("idempotent")


# --- ids, cursors, times ------------------------------------------------------------------------


def gid(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: Any, kind: str) -> int | None:
    """The number in ``gid://shopify/{kind}/{number}``; None for anything else."""
    prefix = f"gid://shopify/{kind}/"
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix) :].isdigit():
        return int(value[len(prefix) :])
    return None


def graphql_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


CursorKey = int | list[int]
"""An id, or [updated-at in microseconds, id] when sorted by UPDATED_AT."""


def encode_cursor(key: CursorKey) -> str:
    raw = json.dumps({"last_id": key}, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode()


def decode_cursor(cursor: str) -> CursorKey:
    try:
        value = json.loads(base64.b64decode(cursor, validate=True))["last_id"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise GraphQLError("Invalid cursor for current pagination sort.") from None
    valid_pair = (
        isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)
    )
    if not isinstance(value, int) and not valid_pair:
        raise GraphQLError("Invalid cursor for current pagination sort.")
    return value


def connection(
    items: list[tuple[Any, Any]],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    node: Callable[[Any], Any] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """A Relay connection over ``items`` ((key, item) sorted by key), keyset-paged on the key;
    ``node`` turns the chosen items (only those) into the nodes served."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE:
            raise GraphQLError(f"The {name} argument must be between 0 and {MAX_PAGE}.")
    chosen = items
    if after is not None:
        floor = decode_cursor(after)
        if type(floor) is not type(items[0][0] if items else floor):
            raise GraphQLError("Invalid cursor for current pagination sort.")
        chosen = [item for item in chosen if item[0] > floor]
    if before is not None:
        ceiling = decode_cursor(before)
        chosen = [item for item in chosen if item[0] < ceiling]
    has_next = has_previous = False
    if first is not None:
        has_next = len(chosen) > first
        chosen = chosen[:first]
    if last is not None:
        has_previous = len(chosen) > last
        chosen = chosen[-last:] if last else []
    make = node or (lambda item: item)
    edges = [{"cursor": encode_cursor(key), "node": make(item)} for key, item in chosen]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous or (after is not None and bool(chosen)),
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


# --- Shopify search syntax ------------------------------------------------------------------------

_TERM = re.compile(r"""(-?)(\w+):(>=|<=|>|<)?('[^']*'|"[^"]*"|\S+)""")


@dataclass(frozen=True, slots=True)
class SearchTerm:
    negated: bool
    name: str
    op: str
    value: str


def parse_search(query: str | None) -> list[SearchTerm]:
    """``updated_at:>='2026-11-26T10:00:00Z' fulfillment_status:unfulfilled`` → terms. Terms
    are joined by spaces or ``AND``; free text and unknown fields are ignored, as Shopify does
    (it answers a search warning, not an error)."""
    terms = []
    for match in _TERM.finditer(query or ""):
        negated, name, op, value = match.groups()
        if value[:1] in "'\"" and value[-1:] == value[:1]:
            value = value[1:-1]
        terms.append(SearchTerm(bool(negated), name.lower(), op or ":", value))
    return terms


def search_moment(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def compares(left: Any, op: str, right: Any) -> bool:
    match op:
        case ">=":
            return bool(left >= right)
        case ">":
            return bool(left > right)
        case "<=":
            return bool(left <= right)
        case "<":
            return bool(left < right)
    return bool(left == right)


# --- cost ---------------------------------------------------------------------------------------


def _fields(
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> list[FieldNode]:
    found: list[FieldNode] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found.extend(_fields(parent, selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                found.extend(_fields(parent, fragment.selection_set, fragments))
    return found


def subfields(prepared: Prepared, node: FieldNode) -> list[FieldNode]:
    """The fields selected directly under ``node`` (fragments flattened)."""
    named = get_named_type(prepared.root_type.fields[node.name.value].type)
    if not isinstance(named, GraphQLObjectType):
        return []
    return _fields(named, node.selection_set, prepared.fragments)


_ABSENT = object()


def selection_cost(
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode | None,
    variables: Any,
    fragments: Mapping[str, FragmentDefinitionNode],
    data: Any = _ABSENT,
) -> int:
    """The cost of a selection: requested (``data`` absent: connections at their full size) or
    actual (counted over ``data``, the result)."""
    total = 0
    for node in _fields(parent, selection_set, fragments):
        name = node.name.value
        if name.startswith("__"):
            continue
        definition = parent.fields[name]
        named = get_named_type(definition.type)
        if is_leaf_type(named) or not isinstance(named, GraphQLObjectType):
            continue
        value = _ABSENT
        if data is not _ABSENT:
            value = (
                data.get(node.alias.value if node.alias else name)
                if isinstance(data, dict)
                else None
            )
            if value is None:
                continue
        if named.name.endswith("Connection"):
            total += _connection_cost(named, node, definition, variables, fragments, value)
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            total += 1 + selection_cost(named, node.selection_set, variables, fragments, item)
    return total


def _connection_cost(
    named: GraphQLObjectType,
    node: FieldNode,
    definition: Any,
    variables: Any,
    fragments: Mapping[str, FragmentDefinitionNode],
    value: Any,
) -> int:
    node_type = get_named_type(named.fields["nodes"].type)
    assert isinstance(node_type, GraphQLObjectType)
    selections: list[tuple[SelectionSetNode | None, str]] = []
    for child in _fields(named, node.selection_set, fragments):
        key = child.alias.value if child.alias else child.name.value
        if child.name.value == "nodes":
            selections.append((child.selection_set, key))
        elif child.name.value == "edges":
            edge_type = get_named_type(named.fields["edges"].type)
            assert isinstance(edge_type, GraphQLObjectType)
            for grandchild in _fields(edge_type, child.selection_set, fragments):
                if grandchild.name.value == "node":
                    node_key = grandchild.alias.value if grandchild.alias else "node"
                    selections.append((grandchild.selection_set, f"{key}.{node_key}"))
    if value is _ABSENT:
        args = get_argument_values(definition, node, variables)
        size = args.get("first") or args.get("last") or 0
        per_node = sum(
            1 + selection_cost(node_type, sel, variables, fragments) for sel, _ in selections
        )
        return 2 + size * per_node
    total = 2
    for sel, key in selections:
        if "." in key:
            edges_key, node_key = key.split(".", 1)
            nodes = [edge.get(node_key) for edge in value.get(edges_key) or [] if edge]
        else:
            nodes = value.get(key) or []
        for item in nodes:
            total += 1 + selection_cost(node_type, sel, variables, fragments, item)
    return total


def requested_cost(prepared: Prepared) -> int:
    if prepared.operation.operation is OperationType.MUTATION:
        return MUTATION_COST * len(prepared.root_fields)
    return selection_cost(
        prepared.root_type, prepared.operation.selection_set, prepared.variables, prepared.fragments
    )


def actual_cost(prepared: Prepared, data: Any) -> int:
    if prepared.operation.operation is OperationType.MUTATION:
        return MUTATION_COST * len(prepared.root_fields)
    if not isinstance(data, dict):
        return 0
    return selection_cost(
        prepared.root_type,
        prepared.operation.selection_set,
        prepared.variables,
        prepared.fragments,
        data,
    )


# --- the cost bucket ----------------------------------------------------------------------------


class CostBucket:
    """Shopify's per-app, per-shop bucket of query points: ``maximum`` points, restoring
    ``restore_rate`` a second. Safe to use from any thread."""

    def __init__(self, maximum: float = 1000.0, restore_rate: float = 50.0) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._available = maximum
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def _restore(self) -> float:
        now = time.monotonic()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now
        return self._available

    def available(self) -> float:
        with self._lock:
            return self._restore()

    def reserve(self, cost: int) -> bool:
        """Take ``cost`` points; False (nothing taken) when fewer are available."""
        with self._lock:
            if cost > self._restore():
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        with self._lock:
            self._restore()
            self._available = min(self.maximum, self._available + points)

    def reset(self) -> None:
        with self._lock:
            self._available = self.maximum
            self._at = time.monotonic()

    def status(self, *, metered: bool) -> dict[str, float]:
        """``extensions.cost.throttleStatus``; a bucket that is not metered always reads full."""
        available = self.available() if metered else self.maximum
        return {
            "maximumAvailable": float(self.maximum),
            "currentlyAvailable": int(available),
            "restoreRate": float(self.restore_rate),
        }


# --- one request --------------------------------------------------------------------------------


@dataclass
class Prepared:
    """A request that parsed and validated: what to run and what it is about."""

    document: Any
    operation: OperationDefinitionNode
    root_type: GraphQLObjectType
    root_fields: list[FieldNode]
    fragments: dict[str, FragmentDefinitionNode]
    variables: VariableValues
    """As coerced against the schema, for graphql-core's argument and directive readers."""
    raw_variables: dict[str, Any]
    target: str = "shop.graphql"
    reference: str | None = None
    arguments: list[dict[str, Any]] = field(default_factory=list)


class Refused(Exception):
    """A request the API answers with top-level ``errors`` before running anything."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("message", "") if errors else "")
        self.errors = errors


def _formatted(error: GraphQLError) -> dict[str, Any]:
    return dict(error.formatted)


def prepare(body: Any) -> Prepared:
    """Parse, validate and coerce one request body; :class:`Refused` with Shopify-shaped
    errors when the schema (or the body) says no."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise Refused([{"message": "No query string was present"}])
    try:
        document = parse(body["query"])
    except GraphQLError as exc:
        raise Refused([_formatted(exc)]) from None
    problems = validate(SCHEMA, document)
    if problems:
        raise Refused([_formatted(problem) for problem in problems])
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    wanted = body.get("operationName")
    if wanted:
        operations = [o for o in operations if o.name and o.name.value == wanted]
    if len(operations) != 1:
        raise Refused([{"message": "An operation name is required"}])
    operation = operations[0]
    raw = body.get("variables") or {}
    if not isinstance(raw, dict):
        raise Refused([{"message": "Variables must be an object"}])
    coerced = get_variable_values(SCHEMA, operation.variable_definitions or [], raw)
    if isinstance(coerced, list):
        raise Refused([_formatted(problem) for problem in coerced])
    root_type = (
        SCHEMA.mutation_type if operation.operation is OperationType.MUTATION else SCHEMA.query_type
    )
    assert root_type is not None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    roots = [f for f in _fields(root_type, operation.selection_set, fragments)]
    prepared = Prepared(document, operation, root_type, roots, fragments, coerced, raw)
    for node in roots:
        if node.name.value.startswith("__"):
            prepared.arguments.append({})
            continue
        definition = root_type.fields[node.name.value]
        prepared.arguments.append(get_argument_values(definition, node, coerced))
    return prepared


def idempotency_key(node: FieldNode, variables: Any) -> str | None:
    values = get_directive_values(IDEMPOTENT, node, variables)
    key = values.get("key") if values else None
    return key if isinstance(key, str) else None


def throttled_body(requested: int, status: dict[str, float]) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": THROTTLED_DOC},
            }
        ],
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": status,
            }
        },
    }


def max_cost_body(requested: int) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": (
                    f"Query cost is {requested}, which exceeds the single query max cost limit "
                    f"({MAX_QUERY_COST}).\n\nSee "
                    "https://shopify.dev/concepts/about-apis/rate-limits for more information "
                    "on how the\ncost of a query is calculated.\n\nTo query larger amounts of "
                    "data with fewer limits, bulk operations should be used instead."
                ),
                "extensions": {
                    "code": "MAX_COST_EXCEEDED",
                    "cost": requested,
                    "maxCost": MAX_QUERY_COST,
                },
            }
        ]
    }


def access_denied(node: FieldNode, scope: str) -> dict[str, Any]:
    name = node.name.value
    return {
        "message": (f"Access denied for {name} field. Required access: `{scope}` access scope."),
        "locations": [{"line": node.loc.start_token.line, "column": node.loc.start_token.column}]
        if node.loc
        else [],
        "path": [node.alias.value if node.alias else name],
        "extensions": {
            "code": "ACCESS_DENIED",
            "documentation": "https://shopify.dev/api/usage/access-scopes",
            "requiredAccess": f"`{scope}` access scope.",
        },
    }


def internal_error_body() -> dict[str, Any]:
    request_id = "5f1c7a2e-0d4b-4c1e-9a7f-3b2d8e6f1a90"
    return {
        "errors": [
            {
                "message": (
                    "Internal error. Looks like something went wrong on our end.\n"
                    f"Request ID: {request_id} (include this in support requests)."
                ),
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ]
    }


def run(
    prepared: Prepared,
    root: Mapping[str, Callable[..., Any]],
    *,
    bucket: CostBucket,
    metered: bool,
    missing_scopes: set[str],
    on_throttled: Callable[[], None],
) -> dict[str, Any]:
    """Price, meter and execute a prepared request; the JSON body to answer (always HTTP 200)."""
    requested = requested_cost(prepared)
    if requested > MAX_QUERY_COST:
        return max_cost_body(requested)
    if metered and not bucket.reserve(requested):
        on_throttled()
        return throttled_body(requested, bucket.status(metered=True))
    denied = [
        access_denied(node, SCOPES[node.name.value])
        for node in prepared.root_fields
        if SCOPES.get(node.name.value) in missing_scopes
    ]
    if denied:
        data: Any = {
            (node.alias.value if node.alias else node.name.value): None
            for node in prepared.root_fields
        }
        body: dict[str, Any] = {"errors": denied, "data": data}
        actual = 0
    else:
        result = execute_sync(
            SCHEMA,
            prepared.document,
            root_value=dict(root),
            variable_values=prepared.raw_variables,
            operation_name=prepared.operation.name.value if prepared.operation.name else None,
        )
        body = {"data": result.data}
        if result.errors:
            body["errors"] = [_formatted(error) for error in result.errors]
        actual = actual_cost(prepared, result.data)
    if metered:
        bucket.refund(max(0, requested - actual))
    body["extensions"] = {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.status(metered=metered),
        }
    }
    return body
