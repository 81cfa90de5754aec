"""The setup page's snippets, with this server's endpoint and the project's repository filled in.

The key itself is never in them (it was shown once): each snippet reads it from
STACKLINE_INGEST_KEY, the variable both SDKs read, which is where a key belongs. The Sentry
snippets hold the project's DSN itself: its user name is the key's public part, which the API
shows at any time and which sends events to this project and does nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

KEY_PLACEHOLDER = "slk_your_ingest_key"


@dataclass(frozen=True)
class Snippet:
    label: str
    code: str


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str
    snippets: tuple[Snippet, ...]


# Where a project has no key that works, and so no DSN.
DSN_PLACEHOLDER = "slp_create_a_key_first"


def dsn_at(api_url: str, dsn: str | None, project_id: str) -> str:
    """A DSN the API gave (a key's), at the address SDKs reach the API by, as the other snippets
    name it: the gateway builds DSNs from the address it was called at, which for this dashboard
    may be an internal one. Without one, the DSN's form with a placeholder for its key.
    The project's number is its id read as a 128-bit integer, as the gateway makes it."""
    public_key = urlsplit(dsn).username if dsn else None
    scheme, _, rest = api_url.rstrip("/").partition("://")
    return f"{scheme}://{public_key or DSN_PLACEHOLDER}@{rest}/{uuid.UUID(project_id).int}"


def sections(api_url: str, project: dict[str, Any]) -> list[Section]:
    repo = project["repo"]
    dsn = dsn_at(api_url, project.get("dsn"), project["id"])
    env = Snippet(
        "Environment of the deployed app",
        f"STACKLINE_ENDPOINT={api_url}\nSTACKLINE_INGEST_KEY={KEY_PLACEHOLDER}",
    )
    return [
        Section(
            "node",
            "Node",
            "Any Node server or serverless function. init() reads the two variables above.",
            (
                Snippet("Install", "npm install @stackline/sdk"),
                env,
                Snippet(
                    "At the start of the app",
                    "import { init, wrapHandler } from '@stackline/sdk';\n"
                    "init();\n\n"
                    "// Serverless handlers: report, and deliver before the function freezes.\n"
                    "export default wrapHandler(async (req, res) => { /* ... */ });\n\n"
                    "// Express, after the routes: app.use(expressErrorHandler());",
                ),
            ),
        ),
        Section(
            "nextjs",
            "Next.js on Vercel",
            "Set the two variables in the Vercel project's Environment Variables; Vercel "
            "provides the commit (VERCEL_GIT_COMMIT_SHA) by itself.",
            (
                Snippet("Install", "npm install @stackline/sdk"),
                env,
                Snippet(
                    "instrumentation.ts (Node and edge runtimes alike)",
                    "import { init, captureRequestError } from '@stackline/sdk';\n"
                    "export function register() { init(); }\n"
                    "export const onRequestError = captureRequestError;",
                ),
            ),
        ),
        Section(
            "browser",
            "Browser",
            "Browsers have no environment to read: the key and the commit come from the build. "
            "An ingest key only sends errors, so it may be public.",
            (
                Snippet(
                    "With a bundler",
                    "import { init } from '@stackline/sdk';\n"
                    "init({\n"
                    f"  ingestKey: '{KEY_PLACEHOLDER}',\n"
                    f"  endpoint: '{api_url}',\n"
                    "  commitSha: process.env.NEXT_PUBLIC_VERCEL_GIT_COMMIT_SHA,\n"
                    "});",
                ),
                Snippet(
                    "Script tag",
                    '<script src="/stackline.min.js"></script>\n'
                    "<script>\n"
                    f"  Stackline.init({{ ingestKey: '{KEY_PLACEHOLDER}', "
                    f"endpoint: '{api_url}' }});\n"
                    "</script>\n"
                    "<!-- stackline.min.js is dist/browser/stackline.min.js of @stackline/sdk -->",
                ),
            ),
        ),
        Section(
            "python",
            "Python",
            "Uncaught exceptions and logger.exception(...) are reported from init() on.",
            (
                Snippet("Install", "pip install stackline-sdk"),
                env,
                Snippet(
                    "Plain Python",
                    "import stackline_sdk\n\n"
                    "stackline_sdk.init()  # STACKLINE_INGEST_KEY, STACKLINE_ENDPOINT",
                ),
                Snippet(
                    "Flask",
                    "import stackline_sdk\n\n"
                    "stackline_sdk.init()\n"
                    "app.wsgi_app = stackline_sdk.StacklineWSGIMiddleware(app.wsgi_app)",
                ),
                Snippet(
                    "FastAPI",
                    "import stackline_sdk\n\n"
                    "stackline_sdk.init()\n"
                    "app.add_middleware(stackline_sdk.StacklineASGIMiddleware)",
                ),
                Snippet(
                    "Django (wsgi.py)",
                    "import stackline_sdk\n"
                    "from django.core.wsgi import get_wsgi_application\n\n"
                    "stackline_sdk.init()\n"
                    "application = stackline_sdk.StacklineWSGIMiddleware("
                    "get_wsgi_application())",
                ),
            ),
        ),
        Section(
            "sentry",
            "An app with a Sentry SDK",
            (
                "Keep your Sentry SDK and change its DSN to this project's, below (each key's "
                "is on the Keys page). "
                if project.get("dsn")
                else "This project has no key that works, so no DSN: create a key on the Keys "
                "page, and its DSN is shown here. "
            )
            + "Set the release to the deployed commit SHA (or name@SHA), so that frames are "
            "read at that commit.",
            (
                Snippet("DSN", dsn),
                Snippet("Environment of the deployed app", f"SENTRY_DSN={dsn}"),
                Snippet(
                    "Python (sentry-sdk)",
                    "import os\n\nimport sentry_sdk\n\n"
                    f'sentry_sdk.init(dsn="{dsn}", release=os.environ["GIT_COMMIT_SHA"])',
                ),
                Snippet(
                    "Node (@sentry/node)",
                    "import * as Sentry from '@sentry/node';\n"
                    f"Sentry.init({{ dsn: '{dsn}', release: process.env.GIT_COMMIT_SHA }});",
                ),
            ),
        ),
        Section(
            "sourcemaps",
            "Source maps in CI",
            "After the build, upload its source maps so that minified frames show the original "
            "line. The commit must be the one the SDK reports.",
            (
                Snippet(
                    "A CI step (GitHub Actions)",
                    "- run: npx stackline sourcemaps upload .next "
                    f"--repo {repo} --url-prefix .next/ --commit $GITHUB_SHA\n"
                    "  env:\n"
                    f"    STACKLINE_ENDPOINT: {api_url}\n"
                    "    STACKLINE_GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
                ),
            ),
        ),
        Section(
            "editor",
            "Your editor",
            f"The extension finds {repo} from the workspace's git remote and marks each "
            "failing line. Build the .vsix with make -C ide-extension package.",
            (
                Snippet(
                    "Install",
                    "code --install-extension ide-extension/build/stackline-0.1.0.vsix\n"
                    "cursor --install-extension ide-extension/build/stackline-0.1.0.vsix",
                ),
                Snippet(
                    "settings.json",
                    f'{{\n  "stackline.serverUrl": "{api_url}"\n}}',
                ),
            ),
        ),
    ]
