"""Pricing rules kept as Python source in the database and run with exec()."""

from __future__ import annotations

RULE = """
def price(order):
    return order["base"] * order["multiplier"]
"""


def run_rule(order: dict[str, float]) -> float:
    scope: dict[str, object] = {}
    exec(compile(RULE, "<pricing-rule>", "exec"), scope)
    price = scope["price"]
    return price(order)  # type: ignore[operator,no-any-return]  # @exec-rule
