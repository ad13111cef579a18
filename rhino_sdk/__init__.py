"""A small Python client for what a project lead scripts against Rhino Secure Access (docs/sdk.md).

from rhino_sdk import RhinoClient
client = RhinoClient.login("https://rhino.example", "lead", password)
for site in client.sites(): ...
"""

from rhino_sdk.client import RhinoClient
from rhino_sdk.errors import RhinoError
from rhino_sdk.models import (
    BulkResult,
    Progress,
    Project,
    Selection,
    SelectionReason,
    Site,
    Task,
    UserRef,
)

__all__ = [
    "BulkResult",
    "Progress",
    "Project",
    "RhinoClient",
    "RhinoError",
    "Selection",
    "SelectionReason",
    "Site",
    "Task",
    "UserRef",
]
