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
from annotations.models.selections import (
    SELECTION_REASONS,
    KosState,
    SelectionDecision,
    SelectionReason,
    SelectionWithdrawal,
    SeriesSelection,
    WithdrawalState,
)
from annotations.models.site_digest import SessionRelayCount, SiteAuditDigest
from annotations.models.tasks import CloseReason, SecureAccessSession, Task, TaskStatus
from annotations.models.users import Role, User

__all__ = [
    "SELECTION_REASONS",
    "AuditChainHead",
    "AuditEvent",
    "AuditOutcome",
    "CloseReason",
    "KosState",
    "LabelEntry",
    "LabelKind",
    "LabelSchema",
    "Project",
    "ProjectGroupObjectPermission",
    "ProjectUserObjectPermission",
    "Role",
    "SecureAccessSession",
    "SelectionDecision",
    "SelectionReason",
    "SelectionWithdrawal",
    "SeriesSelection",
    "SessionRelayCount",
    "Site",
    "SiteAuditDigest",
    "SiteGroupObjectPermission",
    "SiteUserObjectPermission",
    "Task",
    "TaskGroupObjectPermission",
    "TaskStatus",
    "TaskUserObjectPermission",
    "User",
    "WithdrawalState",
]
