from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.request import Request
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from annotations.api.parsers import BoundedJSONParser
from annotations.errors import NotFoundError
from annotations.models import User
from annotations.selectors import parse_pk

if TYPE_CHECKING:

    class AuthedRequest(Request):
        """A request on an endpoint that requires sign-in (DEFAULT_PERMISSION_CLASSES)."""

        user: User

else:
    AuthedRequest = Request


class Api(APIView):
    """Base for every endpoint: bounded JSON in, authenticated users only (settings)."""

    parser_classes = [BoundedJSONParser]

    @staticmethod
    def parse(serializer_class: type[Serializer[Any]], request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


def user_get(user_id: Any, *, active_only: bool = True) -> User:
    """A user by id; inactive accounts only when asked (what reactivation and the console's
    account pages are for)."""
    users = User.objects.filter(is_active=True) if active_only else User.objects.all()
    try:
        return users.get(pk=parse_pk(user_id))
    except User.DoesNotExist:
        raise NotFoundError("No such user.") from None
