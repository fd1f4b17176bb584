"""The filter backend of every API list: a query parameter the list does not know is refused."""

from django.utils.translation import gettext
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

# Not filters, but read by every list: pagination and DRF's format suffix.
ALWAYS_ALLOWED = ("cursor", "page", "page_size", "format")


class StrictFilterBackend(DjangoFilterBackend):
    """``GET /api/calls/?id=5`` is answered 400 naming ``id`` and the filters there are, not with
    every call: a list that silently ignores a filter it does not have looks filtered when it is not.
    Only lists are checked; a single object's URL is not filtered by its query."""

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


def _is_list(view) -> bool:
    action = getattr(view, "action", None)
    return action == "list" if action is not None else hasattr(view, "list") and not hasattr(view, "retrieve")
