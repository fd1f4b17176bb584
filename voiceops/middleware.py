"""Vendor pushes take a short way through the middleware stack.

A vendor callback authenticates by the token in its URL and answers in plain text: sessions,
users, CSRF, language, messages, frame options and login throttling have nothing to do there,
yet cost a receipt about a tenth of its time. Placed right after SecurityMiddleware (HTTPS
redirect and HSTS still apply), this hands a request that resolves to a callback view straight
to the view; every other request goes on through the stack.
"""

from functools import cached_property

from django.urls import Resolver404, resolve, reverse

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
