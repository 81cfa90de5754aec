"""A report built from rows, with notes added to the exception and context suppressed."""

from __future__ import annotations


class ReportError(Exception):
    pass


def totals(rows: list[dict[str, float]]) -> dict[str, float]:
    result: dict[str, float] = {}
    for row in rows:
        result[str(row["region"])] = result.get(str(row["region"]), 0.0) + row["amount"]
    return result


def build(rows: list[dict[str, float]]) -> dict[str, float]:
    try:
        return totals(rows)
    except KeyError as error:
        failure = ReportError(f"row without {error}")
        failure.add_note("rows come from the nightly export")
        raise failure from None  # @notes-from-none
