"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels.

Browser sockets pass AllowedHostsOriginValidator (a foreign, null or missing Origin is refused) and
Django's session-cookie authentication; gateway sockets authenticate by signed challenge
(rhino_web/routing.py).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rhino_web.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs Django set up first)
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from rhino_web.routing import websocket_application  # noqa: E402

# Static files are small ES modules and CSS; serve them from the app so `make run` needs no proxy.
http_app = (
    ASGIStaticFilesHandler(django_asgi_app) if settings.RHINO_SERVE_STATIC else django_asgi_app
)

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": websocket_application,
    }
)
