"""Property tests: no value passed to the SDK's calls makes them raise, and whatever
is sent is valid JSON in the contract's shape."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stackline_sdk
from stackline_sdk import Client, Event, Hint, MockTransport
from stackline_sdk._event import MAX_MESSAGE, MAX_STACK
from stackline_sdk._options import Options

from ingest_contract import ingestible_events
from support import FAST, KEY, Recorder

# No deadline and no speed health check: CI machines are shared, and a slow
# example is not a wrong one.
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text including lone surrogates, which are not valid UTF-8.
texts = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=50)


class Nasty:
    """An object whose __str__ and __repr__ misbehave in one of several ways."""

    def __init__(self, how: str) -> None:
        self.how = how

    def _act(self) -> Any:
        if self.how == "raise":
            raise RuntimeError("no str for you")
        if self.how == "exit":
            raise SystemExit(3)
        if self.how == "not-a-str":
            return 42
        if self.how == "recurse":
            return str(self)
        return "x" * 100_000

    def __str__(self) -> str:
        return self._act()  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return self._act()  # type: ignore[no-any-return]


nasties = st.sampled_from(["raise", "exit", "not-a-str", "recurse", "huge"]).map(Nasty)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | texts
    | st.binary(max_size=20)
    | nasties
)
anything = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.one_of(texts, st.integers()), inner, max_size=4)
    ),
    max_leaves=12,
)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


@st.composite
def exceptions(draw: st.DrawFn) -> BaseException:
    base = draw(st.sampled_from([Exception, ValueError, KeyError, OSError, RuntimeError]))
    # type() wants a name without NUL that encodes to UTF-8.
    name = draw(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20))
    name = name or "E"
    namespace: dict[str, Any] = {"__module__": draw(texts | st.sampled_from(["__main__"]))}
    if draw(st.booleans()):
        namespace["__str__"] = lambda self: Nasty(draw(st.sampled_from(["raise", "exit"])))._act()
    cls: type[BaseException] = type(name, (base,), namespace)
    exc = _raised(cls(*draw(st.lists(anything, max_size=3))))
    if draw(st.booleans()):
        exc.__notes__ = draw(st.lists(texts, max_size=3) | anything)  # type: ignore[attr-defined]
    link = draw(st.sampled_from(["none", "cause", "context", "self-cycle", "cycle"]))
    other = _raised(ValueError(draw(texts)))
    if link == "cause":
        exc.__cause__ = other
    elif link == "context":
        exc.__context__ = other
    elif link == "self-cycle":
        exc.__cause__ = exc
    elif link == "cycle":
        exc.__context__ = other
        other.__context__ = exc
    group = getattr(builtins, "ExceptionGroup", None)  # Python 3.11 and later
    if group is not None and draw(st.booleans()):
        exc = _raised(group("several", [exc, _raised(TypeError("t"))]))
    return exc


capturable = exceptions() | anything | st.tuples(st.just(ValueError), exceptions(), st.none())


def new_client(before_send: Callable[[Event, Hint], Any] | None = None) -> tuple[Client, Recorder]:
    recorder = Recorder()
    client = Client(
        Options(ingest_key=KEY, before_send=before_send, max_queue_size=10_000),
        transport=MockTransport(recorder),
        backoff=FAST,
    )
    return client, recorder


def check_sent(client: Client, recorder: Recorder) -> int:
    """Everything sent parses as strict JSON that the ingest API accepts, within the
    SDK's own limits too."""
    assert client.flush(10)
    count = 0
    for request in recorder.requests:
        json.loads(request.body.decode("utf-8"), parse_constant=_refuse)  # no NaN, Infinity
        for event in ingestible_events(request.body):
            count += 1
            if "exception" in event:
                assert len(event["exception"]["stack"]) <= MAX_STACK
                assert len(event["exception"]["message"]) <= MAX_MESSAGE
    stats = client.stats()
    assert stats.sent == count
    return count


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


def test_capture_exception_never_raises() -> None:
    client, recorder = new_client()

    @EXAMPLES
    @given(value=capturable, tags=anything, fingerprint=anything)
    def check(value: object, tags: Any, fingerprint: Any) -> None:
        result = client.capture_exception(value, tags=tags, fingerprint=fingerprint)
        assert result is None or isinstance(result, str)

    check()
    assert check_sent(client, recorder) > 0
    client.close(0)


def test_capture_message_never_raises() -> None:
    client, recorder = new_client()

    @EXAMPLES
    @given(message=anything, level=anything, tags=anything)
    def check(message: object, level: object, tags: Any) -> None:
        # Room in the queue first: a full queue refuses events by design, and this
        # checks that nothing else does.
        assert client.flush(10)
        assert isinstance(client.capture_message(message, level, tags=tags), str)

    check()
    assert check_sent(client, recorder) > 0
    client.close(0)


def test_scope_calls_never_raise() -> None:
    client, recorder = new_client()
    stackline_sdk.init(ingest_key=KEY, transport=MockTransport(recorder), capture_logging=False)

    @EXAMPLES
    @given(key=anything, value=anything, tags=anything, crumb=anything, category=anything)
    def check(key: Any, value: Any, tags: Any, crumb: Any, category: Any) -> None:
        stackline_sdk.set_tag(key, value)
        stackline_sdk.set_tags(tags)
        stackline_sdk.add_breadcrumb(crumb, category=category, level=value)
        assert stackline_sdk.flush(10)  # room in the queue, as above
        assert stackline_sdk.capture_message("m") is not None

    check()
    assert stackline_sdk.flush(10)
    client.close(0)


def test_whatever_before_send_returns_is_sent_in_shape_or_dropped() -> None:
    returned: list[Any] = []

    def before_send(event: Event, hint: Hint) -> Any:
        return returned[-1]

    client, recorder = new_client(before_send)

    @EXAMPLES
    @given(
        value=anything
        | st.fixed_dictionaries(
            {"event_id": anything, "exception": anything, "tags": anything},
            optional={"breadcrumbs": anything, "request": anything, "bogus": anything},
        )
    )
    def check(value: Any) -> None:
        returned.append(value)
        client.capture_message("m")

    check()
    check_sent(client, recorder)
    stats = client.stats()
    assert stats.sent + stats.dropped == len(returned)
    client.close(0)
