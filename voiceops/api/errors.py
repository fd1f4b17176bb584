"""One error body for every API answer that is not a success (drf-standardized-errors' format).

``{"type": "validation_error" | "client_error" | "server_error",
   "errors": [{"code": "…", "detail": "a sentence a person can act on", "attr": "field" | null}]}``

DRF views get it from the exception handler below; URLs under ``/api/`` that match no view (a
wrong path, a missing trailing slash) and Django's own 400/403/500 answers get it from the
``handler*`` views that ``voiceops.urls`` installs, so an API client never receives an HTML page.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, serializers, status

API_PREFIX = "/api/"


class Conflict(exceptions.APIException):
    """The object is in a state that does not allow this request (the detail says which and why)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The object is in a state that does not allow this.")
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request is too large; upload the recipients as a CSV or XLSX file instead.")
    default_code = "payload_too_large"


def payload_too_large(request) -> PayloadTooLarge:
    """Only a recipient list is worth sending as a file instead; any other body is simply too large."""
    path = getattr(request, "path_info", "") or ""
    if path.rstrip("/").endswith("/recipients"):
        return PayloadTooLarge()
    return PayloadTooLarge(
        gettext("The request body is larger than this API accepts (%(size)s MB); send a smaller one.")
        % {"size": f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024):g}"}
    )


class TooManyRequests(exceptions.APIException):
    """A limit refused the request: the code names the limit, the detail when it frees, ``Retry-After`` in seconds."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = _("Too many requests; try again later.")
    default_code = "throttled"

    def __init__(self, detail, code: str, wait: int):
        super().__init__(detail, code)
        self.wait = wait  # the handler answers it as the Retry-After header


class ApiExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc):
        if isinstance(exc, DjangoValidationError):
            return exceptions.ValidationError(serializers.as_serializer_error(exc))
        if isinstance(exc, RequestDataTooBig):
            return payload_too_large(self.context.get("request"))
        if isinstance(exc, Http404):  # Django's "No Campaign matches the given query." is English and says no id
            return exceptions.NotFound(not_found_detail(self.context.get("view")))
        if isinstance(exc, exceptions.NotAuthenticated) and exc.detail.code == "not_authenticated":
            exc.detail = exceptions.ErrorDetail(how_to_authenticate(self.context.get("request")), exc.detail.code)
        return super().convert_known_exceptions(exc)

    def convert_unhandled_exceptions(self, exc):
        if not isinstance(exc, exceptions.APIException):
            return exceptions.APIException(gettext("Something went wrong on the server; the error has been logged."))
        return exc


def not_found_detail(view, model=None, lookup: str | None = None) -> str:
    """What a detail URL did not find, by the view's model and the id in the URL (a client that
    stored a wrong id, or a key that may not see the object, learns which object was meant)."""
    kwargs = getattr(view, "kwargs", None) or {}
    lookup = lookup or getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")
    queryset = getattr(view, "queryset", None)
    model = model or getattr(queryset, "model", None)
    if model is not None and lookup in kwargs:
        return gettext("There is no %(object)s with id %(id)s, or it is not one you may see.") % {
            "object": model._meta.verbose_name,
            "id": kwargs[lookup],
        }
    return gettext("Not found: the object does not exist, or it is not one you may see.")


def how_to_authenticate(request) -> str:
    """What a request without usable credentials should have sent (DRF's "not provided" says neither
    what nor how; a client sending ``Bearer`` or an old ``Token`` believes it did provide them)."""
    header = request.META.get("HTTP_AUTHORIZATION", "") if request is not None else ""
    scheme = header.split(" ", 1)[0].strip()
    if scheme:
        return gettext(
            "This API does not take “%(scheme)s” credentials: send the header “Authorization: Api-Key <key>” "
            "with a key an operator created for your system in the admin."
        ) % {"scheme": scheme[:20]}
    return gettext(
        "No credentials: send the header “Authorization: Api-Key <key>” with a key an operator created "
        "for your system in the admin."
    )


# --------------------------------------------------------------------------- documentation
class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("A short machine-readable code, e.g. required, not_found, conflict"))
    detail = serializers.CharField(help_text=_("What went wrong, in words a person can act on"))
    attr = serializers.CharField(
        allow_null=True, help_text=_("The field the error is about (dotted for nested fields), or null")
    )


class ErrorSerializer(serializers.Serializer):
    """Every refused or failed request: one or more errors, each with a code and a message."""

    type = serializers.ChoiceField(choices=["validation_error", "client_error", "server_error"])
    errors = ErrorDetailSerializer(many=True)


# --------------------------------------------------------------------------- Django's own error views
def _json(body: dict, status: int) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def error_body(kind: str, code: str, detail: str) -> dict:
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": None}]}


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


def _with_slash(request) -> str | None:
    """The path with a trailing slash, when that one exists (a client forgot it)."""
    path = request.path_info
    if path.endswith("/"):
        return None
    try:
        resolve(path + "/")
    except Resolver404:
        return None
    return path + "/"


def not_found(request, exception=None):
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    suggestion = _with_slash(request)
    if suggestion:
        detail = gettext("No such URL: API URLs end with a slash, use %(path)s.") % {"path": suggestion}
    else:
        detail = gettext("No such URL: %(path)s. The API's operations are listed at /api/docs/.") % {
            "path": request.path_info
        }
    return _json(error_body("client_error", "not_found", detail), status=404)


def server_error(request):
    if not is_api(request):
        return defaults.server_error(request)
    detail = gettext("Something went wrong on the server; the error has been logged.")
    return _json(error_body("server_error", "error", detail), status=500)


def bad_request(request, exception=None):
    if not is_api(request):
        return defaults.bad_request(request, exception)
    return JsonResponse(
        error_body("client_error", "bad_request", gettext("The request could not be read.")), status=400
    )


def permission_denied(request, exception=None):
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    detail = gettext("You do not have permission to perform this action.")
    return _json(error_body("client_error", "permission_denied", detail), status=403)


def json_error_for_status(request, status_code: int) -> JsonResponse:
    """The JSON answer standing in for an error page Django made for an API URL."""
    if status_code == 404:
        return not_found(request)
    if status_code >= 500:
        return server_error(request)
    if status_code == 403:
        return permission_denied(request)
    if status_code == 400:
        return bad_request(request)
    if status_code == 405:
        detail = gettext("Method “%(method)s” not allowed.") % {"method": request.method}
        return _json(error_body("client_error", "method_not_allowed", detail), status=405)
    detail = gettext("The request was refused (HTTP %(status)d).") % {"status": status_code}
    return _json(error_body("client_error", "error", detail), status=status_code)
