"""The lead's live progress socket, ``/ws/projects/<id>/``: PHI-free task summaries.

Accept first, then check (so the browser sees our close code, not an HTTP 403): signed in (else
4401), the project visible to this user (else 4404), and the user one of its leads, an admin or an
auditor (else 4403). The right is re-read from the database every RECHECK_SECONDS — a lead removed
from the project stops receiving within that time (guardian caches permissions on the user object,
so the check loads a fresh user).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from annotations.errors import NotFoundError
from annotations.lead.selectors import may_read_lead_data
from annotations.models import User
from annotations.selectors import project_get_for_user
from annotations.services.progress import project_group
from site_gateway.protocol import CloseCode

RECHECK_SECONDS = 15.0


def _verdict(user_id: int, project_id: str) -> CloseCode | None:
    """None if the user may follow the project now, else the close code."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return CloseCode.UNAUTHENTICATED
    try:
        project = project_get_for_user(user, project_id)
    except NotFoundError:
        return CloseCode.UNKNOWN_SESSION  # 4404: no such project (or not visible)
    return None if may_read_lead_data(user, project) else CloseCode.FORBIDDEN


class ProjectProgressConsumer(AsyncWebsocketConsumer):
    group: str = ""
    _watch: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=int(CloseCode.UNAUTHENTICATED))
            return
        self.user_id = user.pk
        self.project_id = str(self.scope["url_route"]["kwargs"]["project_id"])
        verdict = await database_sync_to_async(_verdict)(self.user_id, self.project_id)
        if verdict is not None:
            await self.close(code=int(verdict))
            return
        self.group = project_group(int(self.project_id))
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send(text_data=json.dumps({"type": "project.ready"}))
        self._watch = asyncio.create_task(self._recheck())

    async def _recheck(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            verdict = await database_sync_to_async(_verdict)(self.user_id, self.project_id)
            if verdict is not None:
                await self.close(code=int(verdict))
                return

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The socket only speaks; anything the browser says is ignored."""

    async def project_task(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "project.task", "task": event["task"]}))

    async def project_tasks(self, event: dict[str, Any]) -> None:
        """Many tasks changed at once (a bulk creation): the page re-reads the board."""
        await self.send(text_data=json.dumps({"type": "project.tasks", "count": event["count"]}))

    async def disconnect(self, code: int) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
