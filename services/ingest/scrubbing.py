"""Server-side scrubbing: secrets and personal data replaced by `[Filtered]` before an event is
stored, whatever the SDK that sent it did.

Two kinds of rule, as Sentry's data scrubber has:
- a field whose name says it holds a secret (a tag `api_key`, a query parameter `password`, an
  `Authorization: ...` line) loses its whole value;
- values that look like a secret or like personal data are replaced wherever they appear in free
  text: bearer tokens, well-known token formats, credentials in URLs, private keys, credit card
  numbers (only those that pass the Luhn check), e-mail addresses and IP addresses.

Each replacement is counted by rule, and the counts are stored with the event
(`context.scrubbed`), so a reader knows that `[Filtered]` hides something and what kind of thing.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter as MetricCounter

FILTERED = "[Filtered]"

SCRUBBED = MetricCounter(
    "stackline_ingest_scrubbed_values_total",
    "Values replaced by [Filtered] at ingest, by rule.",
    ["rule"],
)

# Field names that hold a secret, normalised (lower case, `-` and spaces as `_`). A name holding
# one of these anywhere counts (`x_api_key`, `db_password`, `set_cookie`).
SECRET_FIELD_PARTS = (
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "privatekey",
    "token",
    "credential",
    "authorization",
    "cookie",
    "session",
    "csrf",
    "xsrf",
    "signature",
)
# Names that are secrets only as a whole word: `auth` but not `author`, `pwd` but not `pwdump`.
SECRET_FIELD_WORDS = frozenset({"auth", "pwd", "jwt", "pass", "sid", "ssn"})

_WORD = re.compile(r"[a-z0-9]+")


def is_secret_field(name: str, extra: frozenset[str] = frozenset()) -> bool:
    key = name.lower().replace("-", "_").replace(" ", "_")
    if any(part in key for part in SECRET_FIELD_PARTS) or key in extra:
        return True
    return any(word in SECRET_FIELD_WORDS or word in extra for word in _WORD.findall(key))


# `name=value` and `name: value` in text, query strings and headers, where the name is a secret's.
_HIDDEN_NAMES = (
    r"[\w-]*(?:password|passwd|secret|api[_-]?key|access[_-]?key|private[_-]?key|token"
    r"|credential|authorization|cookie|session[_-]?id|csrf|xsrf|signature)[\w-]*|auth|pwd|jwt"
)
_ASSIGNED = re.compile(
    rf"(?i)(?<![\w-])({_HIDDEN_NAMES})(\"?'?\s*[=:]\s*\"?'?)(?!\[Filtered\])"
    r"((?:Bearer|Basic|Token|Digest)\s+[^\s&\"',;]+|[^\s&\"',;]+)"
)
_BEARER = re.compile(
    r"(?i)\b(Bearer|Basic|Token|Digest)(\s+)(?!\[Filtered\])([A-Za-z0-9._~+/=-]{8,4096})"
)
_URL_PASSWORD = re.compile(
    r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}://[^/\s:@]{1,256}:)(?!\[Filtered\])"
    r"([^/\s@]{1,256})(@)"
)
# Each pattern starts only where a run of the characters it reads begins (the lookbehinds), and
# reads a bounded length from there: a 256 KiB stack costs a few passes over it, never one per
# character (which a hostile `eyJ-eyJ-eyJ-...` would otherwise make quadratic).
_TOKEN_SHAPES = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{0,4096}"  # JWT
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{40,255}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9-]{10,255}"  # Slack
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,255}"  # Stripe
    r"|slk_[A-Za-z0-9]{42}"  # Stackline's own ingest keys
    r")(?![A-Za-z0-9_])"
)
_PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z ]{0,32}PRIVATE KEY-----")
_PRIVATE_KEY_END = re.compile(r"-----END [A-Z ]{0,32}PRIVATE KEY-----")
# Card numbers start with 2-6 (Mastercard, Amex, Diners, JCB, Visa, Discover, UnionPay): a
# millisecond Unix time (1...) or a long id that happens to pass the Luhn check is left alone.
_CARD = re.compile(r"(?<![\d-])[2-6]\d(?:[ -]?\d){11,17}(?![\d-])")
_EMAIL = re.compile(
    r"(?i)(?<![a-z0-9._%+-])[a-z0-9._%+-]{1,64}@(?:[a-z0-9-]{1,63}\.){1,8}[a-z]{2,63}(?![a-z0-9-])"
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6_FULL = re.compile(r"(?i)(?<![\w:.])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])")
_IPV6_SHORT = re.compile(
    r"(?i)(?<![\w:.])(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?::"
    r"(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])"
)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _is_personal_ip(text: str) -> bool:
    """An address that may be a person's: loopback and unspecified addresses name no one, and
    `connect ECONNREFUSED 127.0.0.1:5432` is worth reading as it is."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


@dataclass(frozen=True)
class ScrubRules:
    """What one project's events are scrubbed of; the defaults are what every project gets."""

    keep_emails: bool = False
    keep_ips: bool = False
    # More field names whose values are secrets, normalised as is_secret_field does.
    secret_fields: frozenset[str] = frozenset()
    # More patterns whose matches are replaced in free text.
    patterns: tuple[re.Pattern[str], ...] = ()


DEFAULT_RULES = ScrubRules()

_Sub = tuple[str, tuple[str, ...], re.Pattern[str], Callable[[re.Match[str]], str | None]]


def _whole(match: re.Match[str]) -> str | None:
    return FILTERED


def _last_group(match: re.Match[str]) -> str | None:
    groups = match.groups()
    return "".join(groups[:-1]) + FILTERED


def _url_password(match: re.Match[str]) -> str | None:
    return match.group(1) + FILTERED + match.group(3)


def _card(match: re.Match[str]) -> str | None:
    digits = match.group().replace(" ", "").replace("-", "")
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return FILTERED
    return None


def _ip(match: re.Match[str]) -> str | None:
    return FILTERED if _is_personal_ip(match.group()) else None


# Words one of which a text must hold (in lower case) for a rule's pattern to be worth running:
# a substring test is two orders of magnitude cheaper than a regex with alternatives, and most
# stacks hold none of them.
_SECRET_NAME_HINTS = (
    "pass",
    "pwd",
    "secret",
    "key",
    "token",
    "credential",
    "auth",
    "cookie",
    "session",
    "csrf",
    "xsrf",
    "signature",
    "jwt",
)
_TOKEN_HINTS = ("eyj", "akia", "asia", "gh", "xox", "k_live", "k_test", "slk_")


def _subs(rules: ScrubRules) -> list[_Sub]:
    """(rule, words one of which the text must hold (none: always run), pattern, replacement)."""
    subs: list[_Sub] = [
        ("url_password", ("://",), _URL_PASSWORD, _url_password),
        ("secret_field", _SECRET_NAME_HINTS, _ASSIGNED, _last_group),
        ("bearer", ("bearer", "basic", "token", "digest"), _BEARER, _last_group),
        ("token", _TOKEN_HINTS, _TOKEN_SHAPES, _whole),
        ("credit_card", (), _CARD, _card),
    ]
    if not rules.keep_emails:
        subs.append(("email", ("@",), _EMAIL, _whole))
    if not rules.keep_ips:
        subs.append(("ip", (".",), _IPV4, _ip))
        subs.append(("ip", (":",), _IPV6_FULL, _ip))
        subs.append(("ip", ("::",), _IPV6_SHORT, _ip))
    subs.extend(("pattern", (), pattern, _whole) for pattern in rules.patterns)
    return subs


@dataclass
class Scrubber:
    """Scrubs the values of one event, counting what it replaced."""

    rules: ScrubRules = DEFAULT_RULES
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._subs = _subs(self.rules)

    def text(self, value: str) -> str:
        if not value:
            return value
        if "-----BEGIN" in value:
            value = self._private_keys(value)
        lower = value.lower()
        for rule, hints, pattern, replace in self._subs:
            if hints and not any(hint in lower for hint in hints):
                continue
            value = pattern.sub(self._counting(rule, replace), value)
        return value

    def field(self, name: str, value: str) -> str:
        """A named value: all of it when the name is a secret's, else its text."""
        if value and value != FILTERED and is_secret_field(name, self.rules.secret_fields):
            self.counts["secret_field"] += 1
            return FILTERED
        return self.text(value)

    def report(self) -> dict[str, int]:
        """What was replaced, by rule; also counted in the metrics."""
        for rule, count in self.counts.items():
            SCRUBBED.labels(rule).inc(count)
        return dict(sorted(self.counts.items()))

    def _private_keys(self, value: str) -> str:
        """PEM private keys, from BEGIN to END (or to the end of a text cut short): found by
        two searches rather than one pattern across lines, so each character is read once."""
        parts = []
        position = 0
        while begin := _PRIVATE_KEY_BEGIN.search(value, position):
            end = _PRIVATE_KEY_END.search(value, begin.end())
            parts.append(value[position : begin.start()] + FILTERED)
            self.counts["private_key"] += 1
            position = end.end() if end else len(value)
        parts.append(value[position:])
        return "".join(parts)

    def _counting(
        self, rule: str, replace: Callable[[re.Match[str]], str | None]
    ) -> Callable[[re.Match[str]], str]:
        def counted(match: re.Match[str]) -> str:
            replaced = replace(match)
            if replaced is None:
                return match.group()
            self.counts[rule] += 1
            return replaced

        return counted


def scrub_json(scrubber: Scrubber, value: Any, name: str = "") -> Any:
    """Every string in a JSON-like value, each under the name of the field that holds it."""
    if isinstance(value, str):
        return scrubber.field(name, value) if name else scrubber.text(value)
    if isinstance(value, dict):
        return {k: scrub_json(scrubber, v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(scrubber, v, name) for v in value]
    return value
