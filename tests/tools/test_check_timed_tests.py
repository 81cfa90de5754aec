"""The lint check that refuses wall-clock verdicts in tests: what it flags, what it lets through."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tools.check_timed_tests import ROOT, check_javascript, check_python

FLAGGED_PYTHON = {
    "elapsed asserted": """
        started = time.monotonic()
        work()
        assert time.monotonic() - started < LIMIT
    """,
    "elapsed kept, asserted later": """
        started = time.monotonic()
        work()
        seconds = time.monotonic() - started
        assert seconds < LIMIT
    """,
    "a window": """
        started = time.monotonic()
        client.close(0.3)
        assert 0.25 <= time.monotonic() - started < 1.0
    """,
    "a lower bound": """
        limited_at = time.monotonic()
        wait()
        assert time.monotonic() - limited_at >= 0.95
    """,
    "perf_counter at all": """
        started = time.perf_counter()
    """,
    "from time import": """
        from time import monotonic as now
        started = now()
        assert now() - started < 1
    """,
    "the event loop's clock": """
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert loop.time() - started < 1
    """,
    "readings kept in a list": """
        times = []
        times.append(time.monotonic())
        times.append(time.monotonic())
        assert times[1] - times[0] >= 0.95
    """,
    "a reading against a value from the code": """
        assert worker.rate_limited_until - time.monotonic() > 55
    """,
    "a dataclass field of readings": """
        @dataclass
        class Received:
            at: float = field(default_factory=time.monotonic)
        assert second.at - first.at > 1
    """,
    "wall time": """
        before = datetime.now(UTC)
        work()
        assert datetime.now(UTC) - before < timedelta(seconds=1)
    """,
}

ALLOWED_PYTHON = {
    "a deadline in a polling loop": """
        deadline = time.monotonic() + 30
        while not ready():
            assert time.monotonic() < deadline, "never became ready"
            time.sleep(0.2)
    """,
    "a timeout on the waiting call": """
        answer = await asyncio.wait_for(call(), HANG_GUARD_SECONDS)
        thread.join(30)
        assert event.wait(30)
    """,
    "a point in time made from now": """
        when = utcnow() - timedelta(minutes=5)
        stamp = int(time.time()) - 60
        later = datetime.now(UTC) + timedelta(seconds=30)
    """,
    "stored times compared": """
        assert incident.last_seen - incident.first_seen < timedelta(minutes=30)
    """,
    "a fake clock": """
        clock = FakeClock()
        clock.advance(1.0)
        assert next_attempt_at(client) - clock.now == 1.0
    """,
}

FLAGGED_JS = {
    "elapsed asserted": """
        const t0 = performance.now();
        S.captureException(new Error('x'));
        assert.ok(performance.now() - t0 < 20);
    """,
    "a duration kept on an object": """
        resolve({ code, ms: Date.now() - started });
    """,
    "readings pushed": """
        const times = [];
        tr.send = (r) => (times.push(Date.now()), orig(r));
        assert.ok(times[1] - times[0] >= 990);
    """,
    "a property holding a reading": """
        const entry = { at: Date.now() };
        assert.ok(second.at - first.at > 1000);
    """,
    "hrtime": """
        const start = process.hrtime.bigint();
    """,
}

ALLOWED_JS = {
    "a deadline in a polling loop": """
        const end = performance.now() + timeoutMs;
        while (performance.now() < end) await sleep(10);
    """,
    "mocked timers": """
        t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
        t.mock.timers.tick(999);
    """,
    "a point in time": """
        const past = Date.now() - 60_000;
    """,
    "the rule in a comment": """
        // never write performance.now() - t0 < 20 in a test
        /* nor Date.now() - started */
    """,
}


def _source(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


@pytest.mark.parametrize("source", FLAGGED_PYTHON.values(), ids=FLAGGED_PYTHON.keys())
def test_python_wall_clock_verdicts_are_flagged(source: str) -> None:
    assert check_python("tests/test_x.py", _source(source))


@pytest.mark.parametrize("source", ALLOWED_PYTHON.values(), ids=ALLOWED_PYTHON.keys())
def test_python_hang_guards_and_points_in_time_pass(source: str) -> None:
    assert check_python("tests/test_x.py", _source(source)) == []


@pytest.mark.parametrize("source", FLAGGED_JS.values(), ids=FLAGGED_JS.keys())
def test_javascript_wall_clock_verdicts_are_flagged(source: str) -> None:
    assert check_javascript("sdk/js/test/x.test.mjs", _source(source))


@pytest.mark.parametrize("source", ALLOWED_JS.values(), ids=ALLOWED_JS.keys())
def test_javascript_hang_guards_and_mocked_clocks_pass(source: str) -> None:
    assert check_javascript("sdk/js/test/x.test.mjs", _source(source)) == []


def test_the_repository_passes_and_a_finding_fails_the_command(tmp_path: Path) -> None:
    clean = subprocess.run(
        [sys.executable, "tools/check_timed_tests.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    bad = tmp_path / "test_slow.py"
    bad.write_text(_source(FLAGGED_PYTHON["elapsed asserted"]))
    refused = subprocess.run(
        [sys.executable, "tools/check_timed_tests.py", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "test_slow.py:3: takes elapsed time" in refused.stdout
    # The message says what to write instead.
    assert "hang guard" in refused.stderr and "docs/testing.md" in refused.stderr
