"""A Flask shop for the framework tests, served by werkzeug (threaded) or gunicorn.

    python shop_flask.py PORT          # werkzeug's threaded development server
    gunicorn -k gthread shop_flask:app # gunicorn, from this folder

init() reads STACKLINE_INGEST_KEY and STACKLINE_ENDPOINT. /charge/<user> tags
the request, logs, starts a thread that logs, waits until SHOP_CONCURRENCY
requests are all inside their views, then fails: Flask logs the exception,
which the SDK reports with the request's own tags and breadcrumbs.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from flask import Flask

import stackline_sdk

logging.basicConfig(level=logging.INFO)
stackline_sdk.init(shutdown_timeout=5)

log = logging.getLogger("shop")
together = threading.Barrier(int(os.environ.get("SHOP_CONCURRENCY", "1")), timeout=30)

app = Flask(__name__)
app.wsgi_app = stackline_sdk.StacklineWSGIMiddleware(app.wsgi_app)  # type: ignore[method-assign]


@app.get("/ok")
def ok() -> str:
    return "ok"


@app.get("/charge/<user>")
def charge(user: str) -> str:
    stackline_sdk.set_tag("user_id", user)
    log.info("charging %s", user)
    receipt = threading.Thread(target=log.info, args=("receipt thread for %s", user))
    receipt.start()
    receipt.join()
    together.wait()
    raise RuntimeError(f"charge failed for {user}")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
