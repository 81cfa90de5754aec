"""Default scrubbing: credentials out of URLs and out of the text the SDK sends.

The SDK never collects headers, cookies, request bodies, local variables or the
process environment, so those cannot leak. What can carry a secret is text the
app wrote itself: a URL with a token in its query string, a database DSN with a
password in an exception message, an `Authorization:` header quoted in a log
line. These patterns catch the common shapes; `before_send` is the hook for the
rest. Over-scrubbing an innocent `?key=` is the accepted price.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

FILTERED = "[Filtered]"

# Query parameter names that carry secrets: any name containing one of the first
# group, or exactly one of the short, ambiguous ones (`code` is an OAuth code,
# `sig` a signed-URL signature, `key` an API key).
_SENSITIVE_PART = (
    r"pass|pwd|secret|token|auth|api[-_]?key|access[-_]?key|private[-_]?key|session|"
    r"cookie|csrf|xsrf|signature|credential|jwt|otp|nonce|saml|hmac"
)
_SENSITIVE_EXACT = r"code|key|sig|sid"
_SENSITIVE_PARAM = re.compile(rf"(?:{_SENSITIVE_PART})|^(?:{_SENSITIVE_EXACT})$", re.IGNORECASE)
# A query value that is an e-mail address is personal data whatever the parameter is
# called (`?u=alice@example.com` in an access-log line): filtered like a secret.
_EMAIL_VALUE = re.compile(r"[^@\s/?&=]+@[^@\s/?&=]+\.[a-z]{2,}", re.IGNORECASE)

# Patterns for free text, each run only when a cheap substring test says it
# could match: this runs over whole tracebacks, and one combined pattern tried
# at every position cost more than formatting the traceback itself.
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/@:]*:[^\s/@]*@", re.IGNORECASE)
_PARAM = re.compile(r"([?&;]([^\s=&#;?]+)=)[^\s&#;'\"]+")
_HEADER = re.compile(
    r"(\b(?:proxy-)?authorization|\bset-cookie|\bcookie|\bx-api-key)"
    r"(['\"]?\s*[:=]\s*['\"]?)[^\r\n'\"]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(\bbearer\s+)[a-z0-9._~+/=-]{8,}", re.IGNORECASE)
_INGEST_KEY = re.compile(r"\bslk_[a-z0-9]{42}\b", re.IGNORECASE)


def _secret_param(name: str, value: str) -> bool:
    if _SENSITIVE_PARAM.search(unquote_plus(name)):
        return True
    return ("@" in value or "%40" in value) and bool(_EMAIL_VALUE.fullmatch(unquote_plus(value)))


def _param(match: re.Match[str]) -> str:
    if _secret_param(match.group(2), match.group(0)[len(match.group(1)) :]):
        return match.group(1) + FILTERED
    return match.group(0)


def scrub_text(text: str) -> str:
    """Replace credentials found in free text (messages, stack text, breadcrumbs)."""
    if "://" in text:
        # scheme://user:password@host -> scheme://[Filtered]@host
        text = _USERINFO.sub(rf"\1{FILTERED}@", text)
    if "=" in text:
        # ?token=abc or &client_secret=abc inside a URL
        text = _PARAM.sub(_param, text)
    lowered = text.lower()
    if "authorization" in lowered or "cookie" in lowered or "x-api-key" in lowered:
        # Authorization: Bearer abc, {'Cookie': 'a=b'}: up to the end of the value
        text = _HEADER.sub(rf"\1\2{FILTERED}", text)
    if "bearer" in lowered:
        text = _BEARER.sub(rf"\1{FILTERED}", text)
    if "slk_" in lowered:
        text = _INGEST_KEY.sub(FILTERED, text)
    return text


def scrub_query(query: str) -> str:
    """Filter the values of secret-looking parameters, keeping names and order."""
    if not query:
        return query
    return "&".join(_scrub_param(part) for part in query.split("&"))


def _scrub_param(part: str) -> str:
    name, eq, value = part.partition("=")
    if eq and _secret_param(name, value):
        return f"{name}={FILTERED}"
    return part


def scrub_url(url: str) -> str:
    """A URL without credentials, secret query values or fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = FILTERED + "@" + netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, scrub_query(parts.query), ""))
