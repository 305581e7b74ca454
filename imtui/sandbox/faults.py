"""Fault injection shared by the fake WMS and the fake shop.

Tests describe what should go wrong as data (:class:`FaultRule`); the :class:`FaultPlan` decides,
request by request, which rule fires. Probabilities draw from one ``random.Random(seed)``, so
the same seed and the same order of requests fail the same way every time.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal, get_args

FaultKind = Literal[
    "http_500",
    "http_503",
    "rate_limit",
    "timeout",
    "drop",
    "html",
    "truncated",
    "commit_then_500",
    "commit_then_drop",
    "commit_then_timeout",
    "throttled",
    "internal_error",
]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))

TARGETS: frozenset[str] = frozenset(
    {
        "wms.token",
        "wms.create_order",
        "wms.find_orders",
        "wms.stock",
        "wms.customers",
        "shop.orders",
        "shop.fulfillment_orders",
        "shop.fulfill",
        "shop.variants",
        "shop.locations",
        "shop.inventory",
        "shop.shop",
        "shop.graphql",
    }
)
"""Every request belongs to exactly one target; a rule names one, ``"wms.*"``, ``"shop.*"`` or
``"*"``."""

_WILDCARDS = frozenset({"*", "wms.*", "shop.*"})


@dataclass(eq=False)
class FaultRule:
    """One thing that should go wrong: which requests, how, how often, how many times.

    ``reference`` narrows the rule to requests about one WMS ``referenceNum``, one shop order
    id (orders and fulfilments) or one SKU (inventory pushes). Rules compare by identity, so a
    test can keep the rule it added and read ``fired`` or remove it later.
    """

    target: str
    fault: FaultKind
    times: int | None = None
    probability: float = 1.0
    reference: str | int | None = None
    retry_after: float = 2.0
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.target not in TARGETS and self.target not in _WILDCARDS:
            raise ValueError(f"unknown fault target {self.target!r}; one of {sorted(TARGETS)}")
        if self.fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.fault!r}; one of {sorted(FAULT_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be None or >= 0")
        if self.reference is not None:
            self.reference = str(self.reference)

    @property
    def retired(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, target: str, reference: str | None) -> bool:
        if self.target not in ("*", target) and not (
            self.target.endswith(".*") and target.startswith(self.target[:-1])
        ):
            return False
        return self.reference is None or self.reference == reference


class FaultPlan:
    """The ordered list of rules both servers consult; safe to change from any thread."""

    def __init__(self, seed: int | None = 0) -> None:
        self._random = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def extend(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules.extend(rules)

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r is not rule]

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._random.seed(seed)

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, target: str, reference: str | None = None) -> FaultRule | None:
        """The rule that fires for this request, if any, counting it as fired.

        The random draw happens only for a matching, live rule with probability < 1, so adding
        a certain rule never shifts the sequence a probabilistic one sees.
        """
        if not self._rules:  # the common case in benchmarks: no lock, no draw
            return None
        with self._lock:
            for rule in self._rules:
                if rule.retired or not rule.matches(target, reference):
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                rule.fired += 1
                return rule
        return None


PROFILES: tuple[str, ...] = ("none", "flaky", "storm")


def fault_profile(name: str) -> list[FaultRule]:
    """Ready-made rule sets for ``imtui sandbox --faults``: a quiet day, a bad day, an outage."""
    if name == "none":
        return []
    if name == "flaky":
        return [
            FaultRule("wms.create_order", "commit_then_500", probability=0.01),
            FaultRule("*", "http_500", probability=0.02),
            FaultRule("*", "http_503", probability=0.01, retry_after=1.0),
            FaultRule("shop.*", "rate_limit", probability=0.02, retry_after=1.0),
            FaultRule("*", "drop", probability=0.01),
            FaultRule("*", "timeout", probability=0.005),
        ]
    if name == "storm":
        return [
            FaultRule("wms.create_order", "commit_then_500", probability=0.05),
            FaultRule("wms.create_order", "commit_then_drop", probability=0.03),
            FaultRule("*", "http_503", probability=0.10, retry_after=3.0),
            FaultRule("*", "rate_limit", probability=0.08, retry_after=2.0),
            FaultRule("*", "http_500", probability=0.06),
            FaultRule("*", "drop", probability=0.04),
            FaultRule("*", "html", probability=0.02),
            FaultRule("*", "truncated", probability=0.02),
            FaultRule("*", "timeout", probability=0.02),
        ]
    raise ValueError(f"unknown fault profile {name!r}; one of {', '.join(PROFILES)}")
