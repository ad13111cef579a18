"""The console's management pages (issue 9, "admins manage users, roles and sites").

Every change goes through the audited services (annotations/services/users.py, sites.py), never
straight to the models: the Django admin is a read-only inspector for the same reason. Who may do
what is the services' rule; these views decide only what to show:

- users: admins manage; auditors read; everyone else gets the console's 404 (access.denied);
- sites: admins manage; a site's custodians rename it and register its gateway key; auditors read
  every site, custodians and leads the sites they see on the other console pages.

Pages are server-rendered forms (Post/Redirect/Get); a refused or invalid change re-renders the
page with the coded error and the status the API would answer, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Model, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from guardian.shortcuts import get_users_with_perms

from annotations.api.base import user_get
from annotations.api.errors import error_body
from annotations.audit_actions import AuditAction
from annotations.console.access import ConsoleAccess, administered_sites
from annotations.console.gateways import gateway_row
from annotations.console.views import console_view, nav
from annotations.errors import DomainError, ErrorCode
from annotations.models import Role, Site, User
from annotations.selectors import parse_pk
from annotations.services import sites as site_services
from annotations.services import users as user_services
from annotations.services.access import deny
from annotations.services.audit import audit_record
from site_gateway.keys import key_fingerprint

_STATUS = {
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_TRANSITION: 409,
}
ROLE_CHOICES = [(role.value, role.label) for role in Role]
USERS_PER_PAGE = 100


# --- forms: shape only; the services hold the rules -------------------------------------------


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    roles = forms.MultipleChoiceField(choices=ROLE_CHOICES, required=False)
    password = forms.CharField(max_length=128, strip=False)


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(choices=ROLE_CHOICES, required=False)


class PasswordForm(forms.Form):
    password = forms.CharField(max_length=128, strip=False)


class ActiveForm(forms.Form):
    action = forms.ChoiceField(choices=[("deactivate", "deactivate"), ("reactivate", "reactivate")])
    reason = forms.CharField(max_length=200, required=False)


class SiteCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=50)


class SiteRenameForm(forms.Form):
    name = forms.CharField(max_length=200)


class GatewayKeyForm(forms.Form):
    public_key = forms.CharField(max_length=200)


class CustodianForm(forms.Form):
    action = forms.ChoiceField(choices=[("grant", "grant"), ("revoke", "revoke")])
    user = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class UserListFilter(forms.Form):
    q = forms.CharField(max_length=150, required=False, strip=True)
    role = forms.ChoiceField(choices=[("", "any role"), *ROLE_CHOICES], required=False)
    active = forms.ChoiceField(
        choices=[("", "active and inactive"), ("yes", "active"), ("no", "inactive")],
        required=False,
    )
    page = forms.IntegerField(min_value=1, max_value=10**6, required=False)


def _form_error(form: forms.Form) -> DomainError:
    fields = {name: [str(m) for m in errors] for name, errors in form.errors.items()}
    return DomainError(f"Check {', '.join(sorted(fields))}.", fields=fields)


def parsed(form_class: type[forms.Form], data: Any) -> dict[str, Any]:
    form = form_class(data)
    if not form.is_valid():
        raise _form_error(form)
    return dict(form.cleaned_data)


# --- shared -------------------------------------------------------------------------------------


def actor_of(request: HttpRequest) -> User:
    user = request.user  # console_view let only signed-in users through
    assert isinstance(user, User)
    return user


def _require_everything(request: HttpRequest, access: ConsoleAccess, attempted: str) -> None:
    """The users pages are for admins and auditors: to anyone else they do not exist."""
    if not access.everything:
        deny(actor=request.user, action=attempted, obj=None, reason="Admins and auditors only.")
        raise Http404("No such page.")


def user_or_404(user_id: Any) -> User:
    try:
        return user_get(user_id, active_only=False)
    except DomainError:
        raise Http404("No such user.") from None


def _site_or_404(access: ConsoleAccess, site_id: Any) -> Site:
    try:
        return access.sites().get(pk=parse_pk(site_id))
    except (Site.DoesNotExist, DomainError):
        raise Http404("No such site.") from None


def change(
    request: HttpRequest,
    apply: Callable[[], str],
    *,
    done_url: str,
    failed: Callable[[dict[str, Any], int], HttpResponse],
) -> HttpResponse:
    """Run one audited change: on success a flash message and a redirect (so a reload does not
    repeat it); on a coded error the page again with the error, at the API's status."""
    try:
        message = apply()
    except DomainError as exc:
        body = error_body(exc.code, exc.message, exc.fields or None)["error"]
        return failed(body, _STATUS.get(exc.code, 400))
    messages.success(request, message)
    return HttpResponseRedirect(done_url)


ObjectT = TypeVar("ObjectT", bound=Model)


def change_object(
    request: HttpRequest,
    obj: ObjectT,
    apply: Callable[[ObjectT], str],
    *,
    page: str,
    context: Callable[..., dict[str, Any]],
) -> HttpResponse:
    """``change`` on one object's page (``console:<page>``): back to it when done, or the page
    again, with the object as stored, and the error."""

    def failed(error: dict[str, Any], status: int) -> HttpResponse:
        obj.refresh_from_db()
        return render(request, f"console/{page}.html", context(obj, error=error), status=status)

    url = reverse(f"console:{page}", args=[obj.pk])
    return change(request, lambda: apply(obj), done_url=url, failed=failed)


def record_read(request: HttpRequest, view: str, **detail: Any) -> None:
    audit_record(actor=request.user, action=AuditAction.AUDIT_READ, detail={"view": view, **detail})


def display_name(user: User) -> str:
    return user.get_full_name() or user.get_username()


# --- users --------------------------------------------------------------------------------------


def _user_rows(users: list[User]) -> list[dict[str, Any]]:
    rows = []
    for user in users:
        roles = sorted(group.name for group in user.groups.all())
        rows.append(
            {
                "id": user.pk,
                "username": user.get_username(),
                "name": user.get_full_name(),
                "email": user.email,
                "roles": [Role(r).label for r in roles if r in Role.values],
                "superuser": user.is_superuser,
                "active": user.is_active,
                "last_login": user.last_login,
                "url": reverse("console:user", args=[user.pk]),
            }
        )
    return rows


def _users_context(access: ConsoleAccess, query_string: QueryDict) -> dict[str, Any]:
    """The users page for this query (an empty QueryDict: the unfiltered first page)."""
    form = UserListFilter(query_string)
    if not form.is_valid():
        raise _form_error(form)
    query = form.cleaned_data
    users = User.objects.order_by("username", "id").prefetch_related("groups")
    if query["q"]:
        text = query["q"]
        users = users.filter(
            Q(username__icontains=text)
            | Q(first_name__icontains=text)
            | Q(last_name__icontains=text)
            | Q(email__icontains=text)
        )
    if query["role"]:
        users = users.filter(groups__name=query["role"])
    if query["active"]:
        users = users.filter(is_active=query["active"] == "yes")
    page = Paginator(users, USERS_PER_PAGE).get_page(query["page"] or 1)
    params = query_string.copy()
    params.pop("page", None)
    base = params.urlencode()
    context = {
        "access": access,
        "nav": nav("users", access),
        "users": _user_rows(list(page.object_list)),
        "page": page,
        "page_query": f"{base}&" if base else "",
        "params": query_string,
        "role_choices": ROLE_CHOICES,
        "create_form": {"roles": []},
    }
    return context


@require_GET
@console_view("console.users")
def users(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    _require_everything(request, access, "console.users")
    try:
        context = _users_context(access, request.GET)
    except DomainError as exc:
        record_read(request, "users", error=exc.code, fields=sorted(exc.fields))
        context = _users_context(access, QueryDict())
        context["error"] = error_body(exc.code, exc.message, exc.fields or None)["error"]
        return render(request, "console/users.html", context, status=400)
    filters = {k: request.GET[k] for k in ("q", "role", "active") if request.GET.get(k)}
    record_read(request, "users", rows=len(context["users"]), **filters)
    return render(request, "console/users.html", context)


@require_POST
@console_view(AuditAction.USER_CREATE)
def user_create(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    _require_everything(request, access, AuditAction.USER_CREATE)

    def apply() -> str:
        data = parsed(UserCreateForm, request.POST)
        user = user_services.user_create(actor=actor_of(request), **data)
        return f"Created {user.get_username()}; hand over the initial password in person."

    def failed(error: dict[str, Any], status: int) -> HttpResponse:
        submitted = {
            "username": request.POST.get("username", ""),
            "first_name": request.POST.get("first_name", ""),
            "last_name": request.POST.get("last_name", ""),
            "email": request.POST.get("email", ""),
            "roles": request.POST.getlist("roles"),
        }  # never the password
        context = _users_context(access, QueryDict())
        context.update(error=error, create_form=submitted, create_open=True)
        return render(request, "console/users.html", context, status=status)

    return change(request, apply, done_url=reverse("console:users"), failed=failed)


def _user_context(access: ConsoleAccess, user: User, **extra: Any) -> dict[str, Any]:
    roles = sorted(user.groups.values_list("name", flat=True))
    custodian_of = administered_sites(user).order_by("name")
    return {
        "access": access,
        "nav": nav("users", access),
        "subject": {
            "id": user.pk,
            "username": user.get_username(),
            "name": user.get_full_name(),
            "email": user.email,
            "pseudonym": user.pseudonym,
            "active": user.is_active,
            "superuser": user.is_superuser,
            "last_login": user.last_login,
            "date_joined": user.date_joined,
            "roles": roles,
            "is_self": user.pk == access.user.pk,
        },
        "role_choices": ROLE_CHOICES,
        "custodian_of": [
            {"name": s.name, "url": reverse("console:site", args=[s.pk])} for s in custodian_of
        ],
        "leads": list(user.led_projects.order_by("name").values_list("name", flat=True)),
        "member_of": list(user.member_projects.order_by("name").values_list("name", flat=True)),
        "events_url": f"{reverse('console:audit')}?object=user:{user.pk}",
        **extra,
    }


@require_GET
@console_view("console.users")
def user_detail(request: HttpRequest, access: ConsoleAccess, user_id: str) -> HttpResponse:
    _require_everything(request, access, "console.users")
    user = user_or_404(user_id)
    record_read(request, "user", user=user.pk)
    return render(request, "console/user.html", _user_context(access, user))


def _user_change(
    request: HttpRequest, access: ConsoleAccess, user_id: str, attempted: str,
    apply: Callable[[User], str],
) -> HttpResponse:  # fmt: skip
    _require_everything(request, access, attempted)
    user = user_or_404(user_id)
    context = partial(_user_context, access)
    return change_object(request, user, apply, page="user", context=context)


@require_POST
@console_view(AuditAction.USER_ROLES_CHANGE)
def user_roles(request: HttpRequest, access: ConsoleAccess, user_id: str) -> HttpResponse:
    def apply(user: User) -> str:
        roles = parsed(RolesForm, request.POST)["roles"]
        user_services.user_set_roles(actor=actor_of(request), user=user, roles=roles)
        return f"Roles of {user.get_username()} saved."

    return _user_change(request, access, user_id, AuditAction.USER_ROLES_CHANGE, apply)


@require_POST
@console_view(AuditAction.USER_PASSWORD_SET)
def user_password(request: HttpRequest, access: ConsoleAccess, user_id: str) -> HttpResponse:
    def apply(user: User) -> str:
        password = parsed(PasswordForm, request.POST)["password"]
        user_services.user_set_password(actor=actor_of(request), user=user, password=password)
        return f"New password set for {user.get_username()}; their API token was revoked."

    return _user_change(request, access, user_id, AuditAction.USER_PASSWORD_SET, apply)


@require_POST
@console_view(AuditAction.USER_DEACTIVATE)
def user_active(request: HttpRequest, access: ConsoleAccess, user_id: str) -> HttpResponse:
    def apply(user: User) -> str:
        data = parsed(ActiveForm, request.POST)
        actor = actor_of(request)
        if data["action"] == "deactivate":
            user_services.user_deactivate(actor=actor, user=user, reason=data["reason"])
            return f"{user.get_username()} is deactivated; their live sessions were revoked."
        user_services.user_reactivate(actor=actor, user=user)
        return f"{user.get_username()} may sign in again."

    return _user_change(request, access, user_id, AuditAction.USER_DEACTIVATE, apply)


# --- sites --------------------------------------------------------------------------------------


def _custodians(site: Site) -> list[User]:
    holders = get_users_with_perms(
        site, only_with_perms_in=["administer_site"], with_superusers=False, with_group_users=False
    )
    return sorted(holders, key=lambda u: u.get_username())


def _shows(access: ConsoleAccess, site: Site, project_id: int) -> bool:
    """A site's projects: all of them to admins, auditors and its custodians; to a lead only
    their own (another project's name at a shared site is not theirs to see)."""
    return access.everything or site.pk in access.site_ids or project_id in access.project_ids


@require_GET
@console_view("console.sites")
def sites(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    return _sites_page(request, access)


def _sites_page(
    request: HttpRequest, access: ConsoleAccess, *, status: int = 200, **extra: Any
) -> HttpResponse:
    visible = access.sites().order_by("name", "id").prefetch_related("projects")
    rows = []
    for site in visible:
        gateway = gateway_row(site)
        rows.append(
            {
                "id": site.pk,
                "name": site.name,
                "slug": site.slug,
                "url": reverse("console:site", args=[site.pk]),
                "state": gateway.state,
                "state_label": gateway.state_label,
                "enrolled": site.is_enrolled,
                "fingerprint": key_fingerprint(site.gateway_public_key),
                "custodians": [display_name(u) for u in _custodians(site)],
                "projects": sorted(
                    p.name for p in site.projects.all() if _shows(access, site, p.pk)
                ),
            }
        )
    if status == 200:
        record_read(request, "sites", rows=len(rows))
    context = {
        "access": access,
        "nav": nav("sites", access),
        "rows": rows,
        "create_form": {},
        **extra,
    }
    return render(request, "console/sites.html", context, status=status)


@require_POST
@console_view(AuditAction.SITE_CREATE)
def site_create(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    def apply() -> str:
        data = parsed(SiteCreateForm, request.POST)
        site = site_services.site_create(actor=actor_of(request), **data)
        return (
            f"Created {site.name}. Run `python -m site_gateway enroll` at the site and register "
            "the key it prints on the site's page."
        )

    def failed(error: dict[str, Any], status: int) -> HttpResponse:
        submitted = {k: request.POST.get(k, "") for k in ("name", "slug")}
        return _sites_page(
            request, access, status=status, error=error, create_form=submitted, create_open=True
        )

    return change(request, apply, done_url=reverse("console:sites"), failed=failed)


def _site_context(access: ConsoleAccess, site: Site, **extra: Any) -> dict[str, Any]:
    custodians = _custodians(site)
    may_administer = access.admin or site.pk in access.site_ids
    candidates = (
        User.objects.filter(groups__name=Role.SITE_CUSTODIAN.value, is_active=True)
        .exclude(pk__in=[u.pk for u in custodians])
        .order_by("username")
        if access.admin
        else User.objects.none()
    )
    return {
        "access": access,
        "nav": nav("sites", access),
        "site": {
            "id": site.pk,
            "name": site.name,
            "slug": site.slug,
            "enrolled": site.is_enrolled,
            "enrolled_at": site.enrolled_at,
            "public_key": site.gateway_public_key,
            "fingerprint": key_fingerprint(site.gateway_public_key),
        },
        "gateway": gateway_row(site),
        "may_administer": may_administer,
        "custodians": [
            {"id": u.pk, "name": display_name(u), "active": u.is_active} for u in custodians
        ],
        "candidates": [{"id": u.pk, "name": display_name(u)} for u in candidates],
        "projects": [p.name for p in site.projects.order_by("name") if _shows(access, site, p.pk)],
        "events_url": f"{reverse('console:audit')}?site={site.pk}",
        **extra,
    }


@require_GET
@console_view("console.sites")
def site_detail(request: HttpRequest, access: ConsoleAccess, site_id: str) -> HttpResponse:
    site = _site_or_404(access, site_id)
    record_read(request, "site", site=site.pk)
    return render(request, "console/site.html", _site_context(access, site))


def _site_change(
    request: HttpRequest, access: ConsoleAccess, site_id: str, apply: Callable[[Site], str]
) -> HttpResponse:
    site = _site_or_404(access, site_id)
    context = partial(_site_context, access)
    return change_object(request, site, apply, page="site", context=context)


@require_POST
@console_view(AuditAction.SITE_UPDATE)
def site_rename(request: HttpRequest, access: ConsoleAccess, site_id: str) -> HttpResponse:
    def apply(site: Site) -> str:
        name = parsed(SiteRenameForm, request.POST)["name"]
        site_services.site_rename(actor=actor_of(request), site=site, name=name)
        return f"Site renamed to {name}."

    return _site_change(request, access, site_id, apply)


@require_POST
@console_view(AuditAction.SITE_KEY_REGISTER)
def site_key(request: HttpRequest, access: ConsoleAccess, site_id: str) -> HttpResponse:
    def apply(site: Site) -> str:
        key = parsed(GatewayKeyForm, request.POST)["public_key"]
        try:
            site_services.site_register_gateway_key(
                actor=actor_of(request), site=site, public_key=key
            )
        except ValidationError as exc:  # the model's validator: not an Ed25519 key
            raise DomainError(
                "Not a gateway key: paste the key `python -m site_gateway enroll` printed.",
                fields={"public_key": exc.messages},
            ) from None
        return (
            f"Gateway key registered for {site.name} (fingerprint {key_fingerprint(key.strip())})."
        )

    return _site_change(request, access, site_id, apply)


@require_POST
@console_view(AuditAction.SITE_PERMISSION_GRANT)
def site_custodians(request: HttpRequest, access: ConsoleAccess, site_id: str) -> HttpResponse:
    def apply(site: Site) -> str:
        data = parsed(CustodianForm, request.POST)
        user = user_or_404(data["user"])
        actor = actor_of(request)
        if data["action"] == "grant":
            site_services.site_custodian_grant(actor=actor, site=site, user=user)
            return f"{display_name(user)} is now a custodian of {site.name}."
        site_services.site_custodian_revoke(actor=actor, site=site, user=user)
        return f"{display_name(user)} is no longer a custodian of {site.name}."

    return _site_change(request, access, site_id, apply)
