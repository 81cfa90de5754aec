"""Billing code whose failures reach the log through logging.exception, prefix and all."""

from __future__ import annotations

import logging


def invoice_total(lines: list[dict[str, float]]) -> float:
    return sum(line["price"] * line["quantity"] for line in lines)  # @logged


def bill(customer: dict[str, object], log: logging.Logger) -> None:
    try:
        invoice_total(customer["lines"])  # type: ignore[arg-type]
    except KeyError:
        log.exception("billing failed for %s", customer["id"])


def apply_discount(total: float, code: str) -> float:
    rules = {"HALF": lambda t: t / 2}
    try:
        return rules[code](total)
    except KeyError:
        return total / int(code.removeprefix("PCT"))  # @context-chain
