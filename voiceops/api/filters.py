"""A query parameter an operation does not take is refused, on every operation: lists by their
filter backend, which knows their filters; every other operation by a permission check, since it
takes none (the schema documents none)."""

from django.utils.translation import gettext
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings

from .dispatch import handles_method

# Not filters, but read by every list: pagination and DRF's format suffix.
ALWAYS_ALLOWED = ("cursor", "page", "page_size", "format")


class StrictFilterBackend(DjangoFilterBackend):
    """``GET /api/calls/?id=5`` is answered 400 naming ``id`` and the filters there are, not with
    every call: a list that silently ignores a filter it does not have looks filtered when it is not.
    Only lists are checked here; every other operation by ``RefuseUnknownQuery``."""

    def filter_queryset(self, request, queryset, view):
        if _is_list(view):
            filterset_class = self.get_filterset_class(view, queryset)
            known = set(filterset_class.base_filters) if filterset_class else set()
            unknown = [name for name in request.query_params if name not in known and name not in ALWAYS_ALLOWED]
            if unknown:
                names = ", ".join(sorted(known)) or "—"
                message = gettext("Unknown query parameter; this list filters by: %(names)s.") % {"names": names}
                raise ValidationError({name: [message] for name in unknown})
        return super().filter_queryset(request, queryset, view)


class RefuseUnknownQuery(BasePermission):
    """``POST /api/calls/?dry_run=1`` placed a real call: a parameter that is ignored looks obeyed.

    Checked with the permissions (after authentication, before the view does anything) on every
    operation but lists; DRF's ``format`` is the one parameter every URL takes.
    """

    def has_permission(self, request, view):
        if _is_list(view) or not handles_method(request, view):
            return True  # the filter backend checks a list's; dispatch answers 405
        unknown = [name for name in request.query_params if name != api_settings.URL_FORMAT_OVERRIDE]
        if unknown:
            message = gettext("Unknown query parameter; this operation takes none.")
            raise ValidationError({name: [message] for name in unknown})
        return True


def _is_list(view) -> bool:
    action = getattr(view, "action", None)
    return action == "list" if action is not None else hasattr(view, "list") and not hasattr(view, "retrieve")
