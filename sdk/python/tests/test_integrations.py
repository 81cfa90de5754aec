"""Errors caught without the app asking: excepthooks, asyncio, logging."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

import stackline_sdk

from support import KEY, Recorder, Reply, always, fault_server, init_recorded

SRC = Path(__file__).parent.parent / "src"


def run_python(code: str, endpoint: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run `code` as a script file (so tracebacks show its lines) with the SDK importable."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": str(SRC), "STACKLINE_INGEST_KEY": KEY}
    env["STACKLINE_ENDPOINT"] = endpoint
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
        check=False,
    )


def events_of(recorder: Recorder) -> list[dict[str, Any]]:
    assert stackline_sdk.flush(2)
    return recorder.events()


# -- uncaught exceptions ------------------------------------------------------------


def test_uncaught_exception_in_main_is_reported_and_still_printed(tmp_path: Path) -> None:
    with fault_server(always(Reply())) as server:
        proc = run_python(
            """
            import stackline_sdk
            stackline_sdk.init(shutdown_timeout=2)

            class PaymentError(Exception):
                pass

            def charge():
                raise PaymentError("card declined")

            charge()
            """,
            server.url,
            tmp_path,
        )
        [event] = server.events()
    assert proc.returncode == 1
    assert "PaymentError: card declined" in proc.stderr  # the default hook still ran
    assert event["exception"]["type"] == "PaymentError"
    assert 'in charge\n    raise PaymentError("card declined")' in event["exception"]["stack"]


def test_keyboard_interrupt_is_not_reported(tmp_path: Path) -> None:
    with fault_server(always(Reply())) as server:
        proc = run_python(
            """
            import stackline_sdk
            stackline_sdk.init()
            raise KeyboardInterrupt
            """,
            server.url,
            tmp_path,
        )
        assert server.received == []
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in proc.stderr


def test_sys_excepthook_calls_the_hook_it_replaced(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[BaseException] = []

    def app_hook(t: type[BaseException], e: BaseException, tb: TracebackType | None) -> None:
        seen.append(e)

    monkeypatch.setattr(sys, "excepthook", app_hook)
    init_recorded(recorder)
    assert sys.excepthook is not app_hook
    error = ValueError("uncaught")
    sys.excepthook(ValueError, error, None)
    stackline_sdk.close(2)
    assert seen == [error]
    assert [e["exception"]["message"] for e in recorder.events()] == ["uncaught"]


def test_thread_exception_is_reported(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    previous: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: previous.append(args.exc_value))
    init_recorded(recorder)

    def worker() -> None:
        raise LookupError("in a thread")

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    [event] = events_of(recorder)
    assert event["exception"]["type"] == "LookupError"
    assert "in worker\n    raise LookupError" in event["exception"]["stack"]
    assert len(previous) == 1


# -- asyncio ------------------------------------------------------------------------------


async def test_asyncio_handler_reports_never_retrieved_task_exceptions(
    recorder: Recorder,
) -> None:
    loop = asyncio.get_running_loop()
    passed_on: list[dict[str, object]] = []
    loop.set_exception_handler(lambda loop, context: passed_on.append(context))
    init_recorded(recorder)  # inside the loop: installs the handler itself

    async def job() -> None:
        raise ConnectionResetError("peer went away")

    task = loop.create_task(job())
    await asyncio.wait({task})  # done, its exception still never retrieved
    del task
    gc.collect()  # the task's finalizer calls the exception handler
    [event] = events_of(recorder)
    assert event["exception"]["type"] == "ConnectionResetError"
    assert len(passed_on) == 1
    loop.set_exception_handler(None)


def test_asyncio_handler_needs_a_loop() -> None:
    assert stackline_sdk.install_asyncio_handler() is False


# -- logging -------------------------------------------------------------------------------


@pytest.fixture
def app_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("shop.checkout")
    logger.setLevel(logging.INFO)
    yield logger
    logger.setLevel(logging.NOTSET)


def test_logger_exception_is_reported_with_its_message(
    recorder: Recorder, app_logger: logging.Logger
) -> None:
    init_recorded(recorder)
    app_logger.info("cart loaded")
    try:
        {"sku": 1}["missing"]
    except KeyError:
        app_logger.exception("charge failed for %s", "order-7")
    [event] = events_of(recorder)
    assert event["exception"]["type"] == "KeyError"
    assert event["tags"] == {"logger": "shop.checkout"}
    # The log line is the event's message, the exception attached (as Sentry shows it).
    assert (event["message"], event["level"]) == ("charge failed for order-7", "error")
    crumbs = [(c["category"], c["message"], c["level"]) for c in event["breadcrumbs"]]
    assert crumbs == [("shop.checkout", "cart loaded", "info")]


def test_error_without_exception_is_a_message_event(
    recorder: Recorder, app_logger: logging.Logger
) -> None:
    init_recorded(recorder)
    app_logger.warning("slow query")  # below ERROR: a breadcrumb only
    app_logger.critical("payments down: %d%% errors", 40)
    [event] = events_of(recorder)
    assert (event["message"], event["level"]) == ("payments down: 40% errors", "fatal")
    assert [c["message"] for c in event["breadcrumbs"]] == ["slow query"]


def test_logged_then_reraised_exception_is_reported_once(
    recorder: Recorder, app_logger: logging.Logger
) -> None:
    init_recorded(recorder)
    try:
        try:
            raise TimeoutError("upstream")
        except TimeoutError as exc:
            app_logger.exception("retrying")
            raise exc
    except TimeoutError as exc:
        again = stackline_sdk.capture_exception(exc)
    assert again is None
    assert len(events_of(recorder)) == 1


def test_the_sdks_own_log_records_are_not_reported(recorder: Recorder) -> None:
    init_recorded(recorder)
    logging.getLogger("stackline_sdk").error("internal trouble")
    logging.getLogger("stackline_sdk.sub").error("internal trouble")
    assert events_of(recorder) == []


def test_capture_logging_false_leaves_logging_alone(
    recorder: Recorder, app_logger: logging.Logger
) -> None:
    original = logging.Logger.callHandlers
    init_recorded(recorder, capture_logging=False)
    assert logging.Logger.callHandlers is original
    app_logger.error("not reported")
    assert events_of(recorder) == []


def test_explicit_handler(recorder: Recorder, app_logger: logging.Logger) -> None:
    init_recorded(recorder, capture_logging=False)
    handler = stackline_sdk.LoggingHandler(event_level=logging.WARNING, breadcrumb_level=None)
    app_logger.addHandler(handler)
    try:
        app_logger.info("not a crumb")
        app_logger.warning("reported")
    finally:
        app_logger.removeHandler(handler)
    [event] = events_of(recorder)
    assert event["message"] == "reported"
    assert "breadcrumbs" not in event


def test_the_apps_own_logging_setup_still_works(tmp_path: Path) -> None:
    with fault_server(always(Reply())) as server:
        configured = run_python(
            """
            import logging, stackline_sdk
            stackline_sdk.init()
            logging.basicConfig(format="APP %(levelname)s %(message)s")
            logging.getLogger("x").error("configured")
            """,
            server.url,
            tmp_path,
        )
        unconfigured = run_python(
            """
            import logging, stackline_sdk
            stackline_sdk.init()
            logging.getLogger("x").warning("last resort")
            """,
            server.url,
            tmp_path,
        )
        assert {e["message"] for e in server.events()} == {"configured"}
    # basicConfig() after init() still configures, and with no configuration
    # logging's last-resort handler still prints warnings.
    assert "APP ERROR configured" in configured.stderr
    assert "last resort" in unconfigured.stderr
