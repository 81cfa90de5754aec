"""Spreadsheet formulas evaluated with eval() against a row."""

from __future__ import annotations


def evaluate(formula: str, row: dict[str, float]) -> float:
    return float(eval(formula, {}, dict(row)))  # @eval-string


def column(formula: str, rows: list[dict[str, float]]) -> list[float]:
    return [evaluate(formula, row) for row in rows]
