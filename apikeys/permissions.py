"""Who may do what through the API: people by their Django permissions, API keys by their scopes.

A view names the scopes that admit a key in ``required_scopes``: a tuple for every request, or a
dict by viewset action (any one scope of the tuple suffices). A view that names none admits no
key at all (fail closed), so a new endpoint is never open to every key by accident.
People (session login: the browsable API, the docs page) need the model permission of the HTTP
method, ``view_*`` to read, or what the view names for an action in ``action_permissions``.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.permissions import DjangoModelPermissions

from voiceops.api.dispatch import handles_method

from .models import ApiKey


def api_key_of(request) -> ApiKey | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def actor_of(request):
    """Who a request acts for, as the audit trail names it: the API key, else the person (None if anonymous)."""
    key = api_key_of(request)
    if key is not None:
        return key
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def credential_id(request) -> str | None:
    """A stable id of whoever sent the request, for per-credential quotas: ``key:<prefix>`` or ``user:<id>``.

    None for an anonymous request. The prefix is the public part of the key (never the secret).
    """
    key = api_key_of(request)
    if key is not None:
        return f"key:{key.prefix}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def required_scopes(view) -> tuple[str, ...]:
    declared = getattr(view, "required_scopes", ())
    if isinstance(declared, dict):
        return tuple(declared.get(getattr(view, "action", None), ()))
    return tuple(declared)


class ScopedModelPermissions(DjangoModelPermissions):
    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        key = api_key_of(request)
        if (key is not None or request.user.is_authenticated) and (
            request.method == "OPTIONS" or not handles_method(request, view)
        ):
            # dispatch answers: 405, or for OPTIONS DRF's metadata, which lists only the methods
            # the caller may use; never a 403 about an operation the view does not have
            return True
        if key is not None:
            scopes = required_scopes(view)
            if scopes and key.has_scope(*scopes):
                return True
            self.message = (
                _("This API key may not do this; it needs one of the scopes: %(scopes)s.")
                % {"scopes": ", ".join(scopes)}
                if scopes
                else _("This operation is not open to API keys.")
            )
            return False
        required = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if required is None:
            return super().has_permission(request, view)
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(required))
