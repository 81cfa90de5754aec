from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from stackline_infra import keyformat
from stackline_infra.logs import configure_logging, redact


def test_credentials_are_masked() -> None:
    key = keyformat.generate()
    jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    text = f"key={key} token={jwt} header=Bearer abcdefgh12345678"
    masked = redact(text)
    assert key not in masked
    assert jwt not in masked
    assert "abcdefgh12345678" not in masked
    assert masked.count("[redacted]") == 3


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_extras_and_mask_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test", fmt="json")
    key = keyformat.generate()
    logging.getLogger("stackline.test").warning("refused %s", key, extra={"route": "/api/ingest"})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["route"] == "/api/ingest"
    assert key not in line
