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
from functools import lru_cache
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


# Field names repeat (`message`, `url`, the same tags on every event): each is judged once.
@lru_cache(maxsize=4096)
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
# character (which a hostile `eyJ-eyJ-eyJ-...` would otherwise make quadratic). Where a pattern
# can, it names its first character before its lookbehind: the regex engine then skips ahead to
# that character in C instead of trying the lookbehind at every position (four times faster).
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
_CARD = re.compile(r"[2-6](?<![\d-][2-6])\d(?:[ -]?\d){11,17}(?![\d-])")
_EMAIL = re.compile(
    r"(?i)(?<![a-z0-9._%+-])[a-z0-9._%+-]{1,64}@(?:[a-z0-9-]{1,63}\.){1,8}[a-z]{2,63}(?![a-z0-9-])"
)
_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)")
_IPV6_FULL = re.compile(r"(?i)(?<![\w:.])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])")
# Seven groups after a colon: cheap to look for (it starts with a rare character), and an address
# in full form holds it.
_IPV6_FULL_TAIL = re.compile(r"(?i):(?:[0-9a-f]{1,4}:){6}[0-9a-f]{1,4}")
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


# Replacements that always replace: templates, which the regex engine fills in C. Each names
# every group of its pattern but the last (the secret), then `[Filtered]`.
_WHOLE = FILTERED
_AFTER_TWO_GROUPS = r"\1\2" + FILTERED
_URL_PASSWORD_FILTERED = r"\1" + FILTERED + r"\3"


# Replacements that replace only some matches: the match is kept as it is when declined.
def _card(match: re.Match[str]) -> str:
    found = match.group()
    digits = found.replace(" ", "").replace("-", "")
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return FILTERED
    return found


def _ip(match: re.Match[str]) -> str:
    found = match.group()
    return FILTERED if _is_personal_ip(found) else found


Gate = Callable[[str, str], bool]
"""Whether a line (as it is, and in lower case) may hold what a rule's pattern finds: a
substring test costs a fraction of running the pattern, and most lines hold none."""


def _holds(*words: str) -> Gate:
    def gate(line: str, lower: str) -> bool:
        # A loop, not any() over a generator: this runs for every line of every event.
        for word in words:  # noqa: SIM110
            if word in lower:
                return True
        return False

    return gate


_SECRET_NAME_WORDS = _holds(
    "pass", "pwd", "secret", "key", "token", "credential", "auth", "cookie", "session", "csrf",
    "xsrf", "signature", "jwt",
)  # fmt: skip
_TOKEN_WORDS = _holds(
    "eyj", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox",
    "k_live_", "k_test_", "slk_",
)  # fmt: skip
_BEARER_WORDS = _holds("bearer", "basic", "token", "digest")


def _holds_any(words: tuple[str, ...]) -> Gate:
    """Like _holds, for names that may be written with `-`, `_` or nothing between words."""

    def gate(line: str, lower: str) -> bool:
        squeezed = lower.replace("_", "").replace("-", "")
        return any(word in squeezed for word in words)

    return gate


def _always(line: str, lower: str) -> bool:
    return True


def _assigned_gate(line: str, lower: str) -> bool:
    return ("=" in line or ":" in line) and _SECRET_NAME_WORDS(line, lower)


def _url_gate(line: str, lower: str) -> bool:
    return "://" in line and "@" in line


def _email_gate(line: str, lower: str) -> bool:
    return "@" in line


def _ipv4_gate(line: str, lower: str) -> bool:
    return "." in line


def _ipv6_full_gate(line: str, lower: str) -> bool:
    return line.count(":") >= 7 and _IPV6_FULL_TAIL.search(line) is not None


def _ipv6_short_gate(line: str, lower: str) -> bool:
    return "::" in line


Replacement = str | Callable[[re.Match[str]], str]


@dataclass(frozen=True)
class _Rule:
    name: str
    gate: Gate
    pattern: re.Pattern[str]
    # A template (every match replaced: `subn` counts them), or a function that may keep a
    # match (the replacements are counted as the `[Filtered]` the line gained: neither the
    # card nor the address patterns can match text holding one).
    replace: Replacement


# Lines up to this long are remembered with what scrubbing made of them: the frames of one bug's
# stack, its script URLs and many breadcrumbs repeat from event to event, so most lines of an
# event are scrubbed once per process. At most _CACHED_LINES of them (a few MiB), forgotten all
# at once when full.
_CACHED_LINE_CHARS = 512
_CACHED_LINES = 8192


class _RuleSet:
    """The rules of one ScrubRules, compiled once, with the lines they have already scrubbed."""

    def __init__(self, rules: ScrubRules) -> None:
        self.rules = [
            _Rule("url_password", _url_gate, _URL_PASSWORD, _URL_PASSWORD_FILTERED),
            _Rule("secret_field", _assigned_gate, _ASSIGNED, _AFTER_TWO_GROUPS),
            _Rule("bearer", _BEARER_WORDS, _BEARER, _AFTER_TWO_GROUPS),
            _Rule("token", _TOKEN_WORDS, _TOKEN_SHAPES, _WHOLE),
            _Rule("credit_card", _always, _CARD, _card),
        ]
        if not rules.keep_emails:
            self.rules.append(_Rule("email", _email_gate, _EMAIL, _WHOLE))
        if not rules.keep_ips:
            self.rules.append(_Rule("ip", _ipv4_gate, _IPV4, _ip))
            self.rules.append(_Rule("ip", _ipv6_full_gate, _IPV6_FULL, _ip))
            self.rules.append(_Rule("ip", _ipv6_short_gate, _IPV6_SHORT, _ip))
        if rules.secret_fields:
            # The project's own field names, in text as `name=value` or `name: value`, as the
            # built-in names are (_ASSIGNED); plain names, escaped, so as linear as that rule.
            names = "|".join(
                "[_-]?".join(re.escape(part) for part in name.split("_"))
                for name in sorted(rules.secret_fields, key=len, reverse=True)
            )
            extra = re.compile(
                rf"(?i)(?<![\w-])({names})(\"?'?\s*[=:]\s*\"?'?)(?!\[Filtered\])([^\s&\"',;]+)"
            )
            words = tuple(n.replace("_", "") for n in rules.secret_fields)
            self.rules.append(_Rule("secret_field", _holds_any(words), extra, _AFTER_TWO_GROUPS))
        self.rules.extend(_Rule("pattern", _always, p, _WHOLE) for p in rules.patterns)
        # The rules as tuples, for the loop that runs them on every new line.
        self.steps = [
            (rule.gate, rule.pattern, rule.replace, isinstance(rule.replace, str), rule.name)
            for rule in self.rules
        ]
        self.lines: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {}


# Each project with settings of its own has a rule set (and remembered lines, a few MiB at most):
# the projects sending at the moment, not every project ever seen.
@lru_cache(maxsize=64)
def _rule_set(rules: ScrubRules) -> _RuleSet:
    return _RuleSet(rules)


@dataclass
class Scrubber:
    """Scrubs the values of one event, counting what it replaced."""

    rules: ScrubRules = DEFAULT_RULES
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._set = _rule_set(self.rules)

    def text(self, value: str) -> str:
        if not value:
            return value
        # Most values are one line scrubbed before (a frame, a tag, a breadcrumb's category):
        # looked up first, before the work a new value needs. A remembered line holds no
        # private key and no line break, so the lookup answers what that work would.
        lines = self._set.lines
        # Only a value short enough to be remembered is looked up: hashing a long stack would
        # cost more than its lines' lookups save.
        if len(value) <= _CACHED_LINE_CHARS and (known := lines.get(value)) is not None:
            return self._remembered(known)
        if "-----BEGIN" in value:
            value = self._private_keys(value)
        if "\n" not in value:
            return self._line(value)
        scrubbed = []
        # A stack's frame lines are mostly remembered: looked up here, without a call each.
        for line in value.split("\n"):
            known = lines.get(line)
            if known is None:
                scrubbed.append(self._line(line))
            else:
                scrubbed.append(known[0])
                if known[1]:
                    self._remembered(known)
        return "\n".join(scrubbed)

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

    def _remembered(self, known: tuple[str, tuple[tuple[str, int], ...]]) -> str:
        scrubbed, counts = known
        for rule, count in counts:
            self.counts[rule] += count
        return scrubbed

    def _line(self, line: str) -> str:
        cacheable = len(line) <= _CACHED_LINE_CHARS
        if cacheable and (known := self._set.lines.get(line)) is not None:
            return self._remembered(known)
        lower = line.lower()
        scrubbed = line
        found: list[tuple[str, int]] = []
        for gate, pattern, replace, always, name in self._set.steps:
            if not gate(scrubbed, lower):
                continue
            if always:
                scrubbed, count = pattern.subn(replace, scrubbed)
            elif pattern.search(scrubbed) is None:
                # Most lines hold nothing of the kind: found so, and counted nothing.
                continue
            else:
                before = scrubbed.count(FILTERED)
                scrubbed = pattern.sub(replace, scrubbed)
                count = scrubbed.count(FILTERED) - before
            if count:
                found.append((name, count))
                self.counts[name] += count
        if cacheable:
            if len(self._set.lines) >= _CACHED_LINES:
                self._set.lines.clear()
            self._set.lines[line] = (scrubbed, tuple(found))
        return scrubbed

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


def scrub_json(scrubber: Scrubber, value: Any, name: str = "") -> Any:
    """Every string in a JSON-like value, each under the name of the field that holds it."""
    if isinstance(value, str):
        return scrubber.field(name, value) if name else scrubber.text(value)
    # Strings, most of the values, are scrubbed here rather than in a call of their own.
    if isinstance(value, dict):
        return {
            k: scrubber.field(k, v) if type(v) is str else scrub_json(scrubber, v, k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        if name:
            return [
                scrubber.field(name, v) if type(v) is str else scrub_json(scrubber, v, name)
                for v in value
            ]
        return [scrubber.text(v) if type(v) is str else scrub_json(scrubber, v) for v in value]
    return value


def forget_scrubbed_lines() -> None:
    """Drop every remembered line, as a process that has just started has none."""
    _rule_set.cache_clear()
    is_secret_field.cache_clear()
