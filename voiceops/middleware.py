"""Vendor pushes take a short way through the middleware stack.

A vendor callback authenticates by the token in its URL and answers in plain text: sessions,
users, CSRF, language, messages, frame options and login throttling have nothing to do there,
yet cost a receipt about a tenth of its time. Placed right after SecurityMiddleware (HTTPS
redirect and HSTS still apply), this hands a request that resolves to a callback view straight
to the view; every other request goes on through the stack.
"""

from functools import cached_property

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _

from voiceops.api import errors as api_errors

CALLBACK_URL_NAME = "vendor-callback"


class VendorCallbackMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    @cached_property
    def prefix(self) -> str:
        """Where callback URLs start ("/api/callbacks/"), from the URLconf."""
        return reverse(CALLBACK_URL_NAME, kwargs={"vendor": "v", "token": "t"}).removesuffix("v/t/")

    def __call__(self, request):
        if request.path_info.startswith(self.prefix):
            try:
                match = resolve(request.path_info)
            except Resolver404:  # not a callback URL after all (a missing slash…): the whole stack
                match = None
            if match is not None and match.url_name == CALLBACK_URL_NAME:
                request.resolver_match = match
                return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)


class ApiAwareCommonMiddleware(CommonMiddleware):
    """Django's CommonMiddleware, except that no ``/api/`` answer is a redirect or an HTML page.

    Outside the API a missing trailing slash is still redirected (APPEND_SLASH). Inside it a
    redirect would turn a POST into a GET (or, in DEBUG, raise a 500), so the client is told the
    right URL in a JSON 404 instead; and an error page Django made itself (an unknown URL, the
    DEBUG 404 page, a CSRF or host refusal) is replaced by the API's JSON error body.
    """

    def should_redirect_with_slash(self, request):
        return not api_errors.is_api(request) and super().should_redirect_with_slash(request)

    def process_response(self, request, response):
        response = super().process_response(request, response)
        if (
            response.status_code >= 400
            and api_errors.is_api(request)
            and not response.get("Content-Type", "").startswith("application/json")
            and getattr(request.resolver_match, "url_name", None) != CALLBACK_URL_NAME
        ):
            return api_errors.json_error_for_status(request, response.status_code)
        return response


# Room for the multipart envelope and the form's other fields around the largest recipient file.
BODY_ENVELOPE_BYTES = 1024 * 1024


class RequestSizeLimitMiddleware:
    """Refuses a request whose ``Content-Length`` already says it is larger than the largest file
    we accept, before a byte of its body is read (Django would otherwise stream it all to disk
    first, to refuse it afterwards). The largest legitimate body is a recipient file."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.RECIPIENT_FILE_MAX_BYTES + BODY_ENVELOPE_BYTES
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > limit:
            message = _("The request is too large: at most %(size)s MB can be uploaded.") % {
                "size": settings.RECIPIENT_FILE_MAX_BYTES // (1024 * 1024)
            }
            if request.path_info.startswith("/api/"):
                response = JsonResponse(
                    api_errors.error_body("client_error", "request_too_large", message),
                    status=413,
                    json_dumps_params={"ensure_ascii": False},
                )
            else:
                response = HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
            response["Connection"] = "close"
            return response
        return self.get_response(request)
