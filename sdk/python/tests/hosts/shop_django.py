"""A one-file Django shop for the framework tests, its WSGI app served by gunicorn.

    gunicorn -k gthread shop_django:application   # from this folder

Like shop_flask.py: /charge/<user> tags the request, logs, logs again from a
thread it starts, waits until SHOP_CONCURRENCY requests are inside their views,
then fails. Django turns the exception into a 500 and logs it on
`django.request`, which the SDK reports with the request's own data.
"""

from __future__ import annotations

import logging
import os
import threading

# Django ships no type information.
import django  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]
from django.core.wsgi import get_wsgi_application  # type: ignore[import-untyped]
from django.http import HttpRequest, HttpResponse  # type: ignore[import-untyped]
from django.urls import path  # type: ignore[import-untyped]

import stackline_sdk

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="test-only-not-a-secret",  # a throwaway test app
    LOGGING_CONFIG=None,
)
logging.basicConfig(level=logging.INFO)
django.setup()
stackline_sdk.init(shutdown_timeout=5)

log = logging.getLogger("shop")
together = threading.Barrier(int(os.environ.get("SHOP_CONCURRENCY", "1")), timeout=30)


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def charge(request: HttpRequest, user: str) -> HttpResponse:
    stackline_sdk.set_tag("user_id", user)
    log.info("charging %s", user)
    receipt = threading.Thread(target=log.info, args=("receipt thread for %s", user))
    receipt.start()
    receipt.join()
    together.wait()
    raise RuntimeError(f"charge failed for {user}")


urlpatterns = [path("ok", ok), path("charge/<str:user>", charge)]

application = stackline_sdk.StacklineWSGIMiddleware(get_wsgi_application())
