"""init()'s arguments and the environment, checked once and frozen into Options."""

from __future__ import annotations

import logging
import math
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import _deployment
from ._event import clean_tags, safe_str
from ._types import BeforeBreadcrumb, BeforeSend

logger = logging.getLogger("stackline_sdk")

_KEY = re.compile(r"slk_[0-9A-Za-z]{42}")


@dataclass(frozen=True)
class Options:
    ingest_key: str | None = None
    # Stackline runs where its user deploys it: there is no endpoint to default to.
    endpoint: str = ""
    environment: str = _deployment.DEFAULT_ENVIRONMENT
    commit_sha: str | None = None
    release: str | None = None
    deploy_root: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    before_send: BeforeSend | None = None
    max_breadcrumbs: int = 100
    max_queue_size: int = 100
    timeout: float = 5.0
    shutdown_timeout: float = 2.0
    # Log records outside any request kept as process breadcrumbs: None keeps them
    # until a request middleware is set up (then they are other requests' noise).
    breadcrumbs_outside_requests: bool | None = None
    sample_rate: float = 1.0
    # Exception classes, type names, or compiled patterns searched in "Type: message".
    ignore_errors: tuple[object, ...] = ()
    before_breadcrumb: BeforeBreadcrumb | None = None
    server_name: str | None = None
    send_default_pii: bool = False

    @property
    def ingest_url(self) -> str:
        return self.endpoint.rstrip("/") + "/api/ingest"


def _key(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    raw = explicit if explicit is not None else environ.get("STACKLINE_INGEST_KEY")
    key = raw.strip() if isinstance(raw, str) else ""
    if not key:
        logger.warning(
            "stackline_sdk: no ingest key (pass ingest_key= to init() or set "
            "STACKLINE_INGEST_KEY); error reporting is disabled"
        )
        return None
    if not _KEY.fullmatch(key):
        # Never log the value: a near-miss is still mostly a secret.
        logger.warning(
            "stackline_sdk: the ingest key is malformed (expected slk_ and 42 letters or "
            "digits); error reporting is disabled"
        )
        return None
    return key


def _endpoint(explicit: str | None, environ: Mapping[str, str], required: bool) -> str | None:
    """The endpoint, "" when none is set and a custom transport makes it moot, or None
    (after one warning) when reporting must stay off."""
    endpoint = (explicit or environ.get("STACKLINE_ENDPOINT") or "").strip()
    if not endpoint and not required:
        return ""
    if not endpoint:
        logger.warning(
            "stackline_sdk: no endpoint (pass endpoint= to init() or set STACKLINE_ENDPOINT); "
            "error reporting is disabled"
        )
        return None
    try:
        parts = urlsplit(endpoint)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        logger.warning(
            "stackline_sdk: endpoint %r is not an http(s) URL; error reporting is disabled",
            endpoint,
        )
        return None
    return endpoint


def _text(value: object) -> str | None:
    return None if value is None else safe_str(value)


def _bounded(value: object, default: float, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return default
    return min(high, max(low, float(value)))


def resolve(
    environ: Mapping[str, str],
    *,
    ingest_key: str | None,
    endpoint: str | None,
    has_transport: bool,
    environment: str | None,
    commit_sha: str | None,
    release: str | None,
    deploy_root: str | None,
    tags: Mapping[str, object] | None,
    before_send: BeforeSend | None,
    max_breadcrumbs: int,
    max_queue_size: int,
    timeout: float,
    shutdown_timeout: float,
    breadcrumbs_outside_requests: bool | None = None,
    caller: str | None = None,
    sample_rate: float = 1.0,
    ignore_errors: object = (),
    before_breadcrumb: BeforeBreadcrumb | None = None,
    server_name: str | None = None,
    send_default_pii: bool = False,
) -> Options:
    """Options for init(); ingest_key is None when reporting must stay off."""
    key = _key(ingest_key, environ)
    # One warning is enough: the endpoint is checked only once the key is good.
    url = _endpoint(_text(endpoint), environ, not has_transport) if key is not None else None
    deployment = _deployment.detect(
        environ,
        commit_sha=_text(commit_sha),
        environment=_text(environment),
        release=_text(release),
        deploy_root=_text(deploy_root),
        caller=caller,
    )
    if before_send is not None and not callable(before_send):
        logger.warning("stackline_sdk: before_send is not callable; ignoring it")
        before_send = None
    return Options(
        ingest_key=key if url is not None else None,
        endpoint=url or "",
        environment=deployment.environment,
        commit_sha=deployment.commit_sha,
        release=deployment.release,
        deploy_root=deployment.deploy_root,
        tags=clean_tags(tags or {}),
        before_send=before_send,
        max_breadcrumbs=int(_bounded(max_breadcrumbs, 100, 0, 100)),
        max_queue_size=int(_bounded(max_queue_size, 100, 1, 10_000)),
        timeout=_bounded(timeout, 5.0, 0.1, 60.0),
        shutdown_timeout=_bounded(shutdown_timeout, 2.0, 0.0, 60.0),
        breadcrumbs_outside_requests=(
            None if breadcrumbs_outside_requests is None else bool(breadcrumbs_outside_requests)
        ),
        sample_rate=_bounded(sample_rate, 1.0, 0.0, 1.0),
        ignore_errors=tuple(ignore_errors) if isinstance(ignore_errors, (list, tuple)) else (),
        before_breadcrumb=before_breadcrumb if callable(before_breadcrumb) else None,
        server_name=_text(server_name) if server_name is not None else _hostname(),
        send_default_pii=send_default_pii is True,
    )


def _hostname() -> str | None:
    try:
        return socket.gethostname() or None
    except OSError:
        return None
