"""Who may read the API schema and its documentation page.

Outside DEBUG both need a login (a session or an API token), unless ``API_DOCS_PUBLIC`` says the
interface description may be public. Decided per request, from the settings of the moment.
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from rest_framework.permissions import BasePermission


def docs_are_public() -> bool:
    return settings.DEBUG or settings.API_DOCS_PUBLIC


class SchemaAccess(BasePermission):
    def has_permission(self, request, view):
        return docs_are_public() or bool(request.user and request.user.is_authenticated)


def docs_login_required(view):
    """The documentation page sends an anonymous visitor to the admin login first."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not docs_are_public() and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return view(request, *args, **kwargs)

    return wrapper
