"""WebSocket routes. Browser sockets pass the Origin check and cookie authentication; gateway
sockets are not browsers (no cookies, no Origin) and authenticate by signed challenge instead."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import re_path

from annotations.consumers.browser import BrowserSessionConsumer
from annotations.consumers.gateway import GatewayControlConsumer, GatewaySessionConsumer
from annotations.consumers.project import ProjectProgressConsumer

_UUID = r"(?P<session_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"

# Nested routers see the path after their parent's match: these are relative to /ws/gateway/
# and /ws/ respectively.
gateway_urlpatterns = [
    re_path(r"^$", GatewayControlConsumer.as_asgi()),
    re_path(rf"^sessions/{_UUID}/$", GatewaySessionConsumer.as_asgi()),
]

browser_urlpatterns = [
    re_path(rf"^sessions/{_UUID}/$", BrowserSessionConsumer.as_asgi()),
    re_path(r"^projects/(?P<project_id>[0-9]{1,18})/$", ProjectProgressConsumer.as_asgi()),
]

websocket_application: Any = URLRouter(
    [
        re_path(r"^ws/gateway/", URLRouter(gateway_urlpatterns)),
        re_path(
            r"^ws/",
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(browser_urlpatterns))),
        ),
    ]
)
