"""The catalogue of audited actions and their DICOM audit message codes (PS3.15 A.5, PS3.16 CID 400-403).

Where a DICOM event fits, the action maps to its EventID (DCM 1101xx), an optional EventTypeCode and
the EventActionCode (C, R, U, D, E). Actions without a DICOM counterpart use the local scheme RHINO.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AuditAction(enum.StrEnum):
    USER_LOGIN = "user.login"
    USER_LOGIN_FAILED = "user.login_failed"
    USER_LOGOUT = "user.logout"
    USER_ROLES_CHANGE = "user.roles_change"
    USER_PREFERENCES_UPDATE = "user.preferences_update"
    USER_CREATE = "user.create"
    USER_DEACTIVATE = "user.deactivate"
    USER_REACTIVATE = "user.reactivate"
    USER_PASSWORD_SET = "user.password_set"  # noqa: S105  (an action name, not a secret)
    SITE_CREATE = "site.create"
    SITE_UPDATE = "site.update"
    SITE_KEY_REGISTER = "site.key_register"
    SITE_PERMISSION_GRANT = "site.permission_grant"
    SITE_PERMISSION_REVOKE = "site.permission_revoke"
    SITE_DELETE = "site.delete"
    PROJECT_CREATE = "project.create"
    PROJECT_UPDATE = "project.update"
    PROJECT_DELETE = "project.delete"
    PROJECT_LEAD_ADD = "project.lead_add"
    PROJECT_LEAD_REMOVE = "project.lead_remove"
    PROJECT_MEMBER_ADD = "project.member_add"
    PROJECT_MEMBER_REMOVE = "project.member_remove"
    PROJECT_SITE_ADD = "project.site_add"
    PROJECT_SITE_REMOVE = "project.site_remove"
    SCHEMA_CREATE = "schema.create"
    TASK_CREATE = "task.create"
    TASK_ASSIGN = "task.assign"
    TASK_STATUS_CHANGE = "task.status_change"
    TASK_DELETE = "task.delete"
    SELECTION_RECORD = "selection.record"
    SELECTION_WITHDRAW = "selection.withdraw"
    SELECTION_KOS_STATE = "selection.kos_state"  # the site reports the KOS stored (or failed)
    SERIES_BROWSE = "series.browse"  # a lead's query of a site's PACS (the query, no results)
    SERIES_THUMBNAIL = "series.thumbnail"  # a thumbnail rendered at the site, relayed
    AGREEMENT_READ = "agreement.read"  # reader agreement computed at the site, numbers only
    LABELS_COUNT = "labels.count"  # labels per label of the project's tasks, counted at the site
    USER_TOKEN_ISSUE = "user.token_issue"  # noqa: S105  (an action name, not a secret)
    SESSION_OPEN = "session.open"
    SESSION_RENEW = "session.renew"
    SESSION_CLOSE = "session.close"
    SESSION_REVOKE = "session.revoke"
    SESSION_EXPIRE = "session.expire"
    SESSION_DENIED = "session.denied"
    GATEWAY_CONNECT = "gateway.connect"
    GATEWAY_AUTH_FAILED = "gateway.auth_failed"
    SITE_AUDIT_DIGEST = "site.audit_digest"  # a gateway's digest of its own audit (issue 9)
    ACCESS_DENIED = "access.denied"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"


@dataclass(frozen=True, slots=True)
class DicomEventCode:
    event_id: tuple[str, str, str]  # (code value, scheme, meaning)
    action_code: str  # EventActionCode: C, R, U, D or E
    event_type: tuple[str, str, str] | None = None


_AUTH = ("110114", "DCM", "User Authentication")
_ALERT = ("110113", "DCM", "Security Alert")
_OBJ_SECURITY = ("110135", "DCM", "Object Security Attributes Changed")
_ROLES = ("110136", "DCM", "Security Roles Changed")
_SEC_CONFIG = ("110129", "DCM", "Security Configuration")
_NODE_AUTH = ("110126", "DCM", "Node Authentication")
_USER_SECURITY = ("110137", "DCM", "User Security Attributes Changed")
_RESTRICTED = ("110132", "DCM", "Use of Restricted Function")
_AUDIT_USED = ("110101", "DCM", "Audit Log Used")
_EXPORT = ("110106", "DCM", "Export")
_BEGIN_TRANSFER = ("110102", "DCM", "Begin Transferring DICOM Instances")
_QUERY = ("110112", "DCM", "Query")
_INSTANCES_ACCESSED = ("110103", "DCM", "DICOM Instances Accessed")

DICOM_EVENT_CODES: dict[AuditAction, DicomEventCode] = {
    AuditAction.USER_LOGIN: DicomEventCode(_AUTH, "E", ("110122", "DCM", "Login")),
    AuditAction.USER_LOGIN_FAILED: DicomEventCode(_AUTH, "E", ("110122", "DCM", "Login")),
    AuditAction.USER_LOGOUT: DicomEventCode(_AUTH, "E", ("110123", "DCM", "Logout")),
    # An API token is a sign-in that outlives the request (the SDK's POST /api/auth/token/).
    AuditAction.USER_TOKEN_ISSUE: DicomEventCode(_AUTH, "E", ("110122", "DCM", "Login")),
    AuditAction.USER_ROLES_CHANGE: DicomEventCode(_ALERT, "U", _ROLES),
    AuditAction.USER_CREATE: DicomEventCode(_ALERT, "C", _USER_SECURITY),
    AuditAction.USER_DEACTIVATE: DicomEventCode(_ALERT, "U", _USER_SECURITY),
    AuditAction.USER_REACTIVATE: DicomEventCode(_ALERT, "U", _USER_SECURITY),
    AuditAction.USER_PASSWORD_SET: DicomEventCode(_ALERT, "U", _USER_SECURITY),
    AuditAction.SITE_CREATE: DicomEventCode(_ALERT, "C", _SEC_CONFIG),
    AuditAction.SITE_UPDATE: DicomEventCode(_ALERT, "U", _SEC_CONFIG),
    AuditAction.SITE_DELETE: DicomEventCode(_ALERT, "D", _SEC_CONFIG),
    AuditAction.SITE_KEY_REGISTER: DicomEventCode(_ALERT, "U", _NODE_AUTH),
    AuditAction.SITE_PERMISSION_GRANT: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.SITE_PERMISSION_REVOKE: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.PROJECT_LEAD_ADD: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.PROJECT_LEAD_REMOVE: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.PROJECT_MEMBER_ADD: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.PROJECT_MEMBER_REMOVE: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.PROJECT_SITE_ADD: DicomEventCode(_ALERT, "U", _SEC_CONFIG),
    AuditAction.PROJECT_SITE_REMOVE: DicomEventCode(_ALERT, "U", _SEC_CONFIG),
    AuditAction.TASK_ASSIGN: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.ACCESS_DENIED: DicomEventCode(_ALERT, "E", _RESTRICTED),
    AuditAction.SESSION_DENIED: DicomEventCode(_ALERT, "E", _RESTRICTED),
    # A Secure Access session is the right to view a series' instances at the site (PS3.15 A.5.3.2).
    AuditAction.SESSION_OPEN: DicomEventCode(_BEGIN_TRANSFER, "E"),
    AuditAction.SESSION_RENEW: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.SESSION_CLOSE: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.SESSION_REVOKE: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.SESSION_EXPIRE: DicomEventCode(_ALERT, "U", _OBJ_SECURITY),
    AuditAction.GATEWAY_CONNECT: DicomEventCode(_ALERT, "E", _NODE_AUTH),
    AuditAction.GATEWAY_AUTH_FAILED: DicomEventCode(_ALERT, "E", _NODE_AUTH),
    AuditAction.AUDIT_READ: DicomEventCode(_AUDIT_USED, "R"),
    # The lead's browser queries the site's PACS through its gateway (PS3.15 A.5.3.10).
    AuditAction.SERIES_BROWSE: DicomEventCode(_QUERY, "E"),
    AuditAction.SERIES_THUMBNAIL: DicomEventCode(_INSTANCES_ACCESSED, "R"),
    AuditAction.AGREEMENT_READ: DicomEventCode(_INSTANCES_ACCESSED, "R"),
    AuditAction.LABELS_COUNT: DicomEventCode(_INSTANCES_ACCESSED, "R"),
    AuditAction.AUDIT_EXPORT: DicomEventCode(_EXPORT, "R"),
}


def dicom_event_code(action: str) -> DicomEventCode:
    """The DICOM coding of ``action``, or a local RHINO code when DICOM has no fitting event."""
    try:
        return DICOM_EVENT_CODES[AuditAction(action)]
    except (KeyError, ValueError):
        verb = action.rsplit(".", 1)[-1]
        code = "C" if verb.startswith("create") else "D" if verb.startswith("delete") else "U"
        return DicomEventCode((action, "RHINO", action.replace(".", " ").replace("_", " ")), code)
