"""Central's domain model. Central holds pseudonymous handles only: no pixels, no label geometry,
no original DICOM UIDs and no patient identifiers are ever stored here."""

from annotations.models.audit import AuditChainHead, AuditEvent, AuditOutcome
from annotations.models.permissions import (
    ProjectGroupObjectPermission,
    ProjectUserObjectPermission,
    SiteGroupObjectPermission,
    SiteUserObjectPermission,
    TaskGroupObjectPermission,
    TaskUserObjectPermission,
)
from annotations.models.projects import LabelEntry, LabelKind, LabelSchema, Project, Site
from annotations.models.tasks import CloseReason, SecureAccessSession, Task, TaskStatus
from annotations.models.users import Role, User

__all__ = [
    "AuditChainHead",
    "AuditEvent",
    "AuditOutcome",
    "CloseReason",
    "LabelEntry",
    "LabelKind",
    "LabelSchema",
    "Project",
    "ProjectGroupObjectPermission",
    "ProjectUserObjectPermission",
    "Role",
    "SecureAccessSession",
    "Site",
    "SiteGroupObjectPermission",
    "SiteUserObjectPermission",
    "Task",
    "TaskGroupObjectPermission",
    "TaskStatus",
    "TaskUserObjectPermission",
    "User",
]
