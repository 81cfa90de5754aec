"""Which commit and environment this process runs, read from what the host sets.

Called once, from init(), with the environment passed in: nothing here reads
os.environ by itself.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from ._event import MAX_DEPLOY_ROOT, MAX_ENVIRONMENT, MAX_RELEASE, truncate

logger = logging.getLogger("stackline_sdk")

_SHA = re.compile(r"[0-9a-f]{40}")

# In order of precedence. Each is what the host documents for the running
# code (or, for CI systems, the build), checked to be a full 40-hex SHA.
# Fly.io, Google Cloud Run and plain containers set no commit variable: there,
# pass commit_sha= or set STACKLINE_COMMIT_SHA at build time.
COMMIT_VARIABLES = (
    "STACKLINE_COMMIT_SHA",
    "VERCEL_GIT_COMMIT_SHA",  # Vercel
    "RENDER_GIT_COMMIT",  # Render
    "RAILWAY_GIT_COMMIT_SHA",  # Railway
    "HEROKU_BUILD_COMMIT",  # Heroku dyno metadata (current name)
    "HEROKU_SLUG_COMMIT",  # Heroku dyno metadata (older name)
    "SOURCE_VERSION",  # Heroku, during the build
    "COMMIT_REF",  # Netlify
    "CF_PAGES_COMMIT_SHA",  # Cloudflare Pages
    "GITHUB_SHA",  # GitHub Actions
    "CI_COMMIT_SHA",  # GitLab CI
    "BITBUCKET_COMMIT",  # Bitbucket Pipelines
    "CIRCLE_SHA1",  # CircleCI
    "CODEBUILD_RESOLVED_SOURCE_VERSION",  # AWS CodeBuild
)

DEFAULT_ENVIRONMENT = "production"


@dataclass(frozen=True)
class Deployment:
    commit_sha: str | None
    environment: str
    release: str | None
    deploy_root: str | None


def normalize_sha(value: str) -> str | None:
    sha = value.strip().lower()
    return sha if _SHA.fullmatch(sha) else None


def _commit(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    if explicit is not None:
        sha = normalize_sha(explicit)
        if sha is None:
            logger.warning(
                "stackline_sdk: commit_sha %r is not a 40-character hex SHA; events go without one",
                explicit,
            )
        return sha
    for name in COMMIT_VARIABLES:
        value = environ.get(name)
        if value:
            sha = normalize_sha(value)
            if sha is not None:
                return sha
            logger.debug("stackline_sdk: ignoring %s=%r, not a full commit SHA", name, value)
    return None


def _environment(explicit: str | None, environ: Mapping[str, str]) -> str:
    if explicit:
        return explicit
    candidates = (
        environ.get("STACKLINE_ENVIRONMENT"),
        environ.get("VERCEL_ENV"),  # production | preview | development
        environ.get("RAILWAY_ENVIRONMENT_NAME"),
        # Netlify's CONTEXT (production | deploy-preview | branch-deploy | dev);
        # the name is too generic to trust without Netlify's own marker.
        environ.get("CONTEXT") if environ.get("NETLIFY") == "true" else None,
        "preview" if environ.get("IS_PULL_REQUEST") == "true" and environ.get("RENDER") else None,
    )
    for value in candidates:
        if value and value.strip():
            return value.strip()
    return DEFAULT_ENVIRONMENT


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the directory was removed under the process
        return None


# What marks the top of a project: the nearest ancestor holding one of these is the root.
_ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
_MAX_LEVELS = 64


def _project_root(path: str | None) -> str | None:
    """The nearest ancestor of the file `path` holding a project marker, if any."""
    if not path:
        return None
    try:
        folder = os.path.dirname(os.path.realpath(path))
        for _ in range(_MAX_LEVELS):
            if any(os.path.exists(os.path.join(folder, m)) for m in _ROOT_MARKERS):
                return folder
            parent = os.path.dirname(folder)
            if parent == folder:
                return None
            folder = parent
    except (OSError, ValueError):
        pass
    return None


def _installed(path: str) -> bool:
    """Whether `path` belongs to the interpreter or a virtualenv (gunicorn's script,
    `python -m uvicorn`), not to the app: its ancestors say nothing about the project."""
    real = os.path.realpath(path)
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    return any(real == p or real.startswith(p + os.sep) for p in prefixes) or (
        f"{os.sep}site-packages{os.sep}" in real
    )


def _entry_files(caller: str | None) -> list[str]:
    """The program's entry module, then the file that called init() (the app module a
    server such as gunicorn imports), leaving out those that are installed code."""
    files: list[str] = []
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if isinstance(main_file, str):
        files.append(main_file)
    if caller:
        files.append(caller)
    return [f for f in files if not _installed(f)]


def find_root(caller: str | None = None) -> str | None:
    """The repository root frames are made relative to: the nearest ancestor of the entry
    module (or of init()'s caller) with pyproject.toml, setup.cfg, setup.py or .git; else
    the working directory. Not the working directory first: run from / by cron or by
    absolute path from elsewhere, the same file would get a different path each time."""
    for path in _entry_files(caller):
        root = _project_root(path)
        if root is not None:
            return root
    return _cwd()


def _deploy_root(explicit: str | None, caller: str | None = None) -> str | None:
    root = explicit or find_root(caller)
    # The API refuses a longer one, and a path cut short would map frames to the
    # wrong files: without it, Stackline falls back to the usual roots.
    return root if root is not None and len(root) <= MAX_DEPLOY_ROOT else None


def detect(
    environ: Mapping[str, str],
    *,
    commit_sha: str | None = None,
    environment: str | None = None,
    release: str | None = None,
    deploy_root: str | None = None,
    caller: str | None = None,
) -> Deployment:
    """What init() was told, else what the host says, else the defaults; each
    bounded to what the ingest API accepts."""
    release = release or environ.get("STACKLINE_RELEASE") or None
    return Deployment(
        commit_sha=_commit(commit_sha, environ),
        environment=truncate(_environment(environment, environ), MAX_ENVIRONMENT),
        release=None if release is None else truncate(release, MAX_RELEASE),
        deploy_root=_deploy_root(deploy_root, caller),
    )
