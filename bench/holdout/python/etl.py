"""An ETL step that wraps low-level failures in its own error, with `raise ... from`."""

from __future__ import annotations

import csv
import io


class LoadError(Exception):
    pass


def parse_rows(text: str) -> list[dict[str, int]]:
    rows = csv.DictReader(io.StringIO(text))
    return [{"id": int(row["id"]), "qty": int(row["qty"])} for row in rows]


def load(text: str) -> list[dict[str, int]]:
    try:
        return parse_rows(text)
    except ValueError as error:
        raise LoadError("the export has a bad row") from error  # @etl-chain
