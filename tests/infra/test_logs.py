from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from stackline_contract import keyformat
from stackline_infra import tracecontext
from stackline_infra.logs import configure_logging, redact


def test_credentials_are_masked() -> None:
    key = keyformat.generate()
    public_key = keyformat.generate_public()
    jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    text = (
        f"key={key} token={jwt} header=Bearer abcdefgh12345678"
        f" url=/api/1/envelope/?sentry_key={public_key}"
    )
    masked = redact(text)
    assert key not in masked
    assert public_key not in masked
    assert jwt not in masked
    assert "abcdefgh12345678" not in masked
    assert masked.count("[redacted]") == 4


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


@pytest.mark.usefixtures("restore_logging")
def test_every_line_names_its_service_and_the_trace_it_was_written_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("ingest", fmt="json")
    logger = logging.getLogger("stackline.test")
    logger.warning("outside any request")
    trace = tracecontext.new()
    with tracecontext.use(trace):
        logger.warning("while serving one")
    outside, inside = (json.loads(line) for line in capsys.readouterr().err.splitlines()[-2:])
    assert outside["service"] == inside["service"] == "ingest"
    assert "trace_id" not in outside
    assert inside["trace_id"] == trace.trace_id


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_carry_the_trace_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("gateway", fmt="text")
    trace = tracecontext.new()
    with tracecontext.use(trace):
        logging.getLogger("stackline.test").warning("while serving one")
    assert capsys.readouterr().err.rstrip().endswith(f"[trace {trace.trace_id}]")
