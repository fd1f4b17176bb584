"""``Authorization: Api-Key <prefix>.<secret>``: the key, not a person, is the caller.

A request with a valid key is authenticated with ``request.user`` anonymous and ``request.auth``
the ``ApiKey``; what it may do is decided by the key's scopes (``apikeys.permissions``). A wrong,
revoked or expired key is refused with 401 and a reason, never treated as anonymous.
"""

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework_api_key.permissions import KeyParser

from .models import ApiKey

KEYWORD = KeyParser.keyword  # "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        keyword, _sep, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None
        key = key.strip()
        try:
            api_key = ApiKey.objects.get_from_key(key) if key else None
        except ApiKey.DoesNotExist:
            api_key = None
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("This API key has expired; ask an operator for a new one."))
        api_key.touch()
        return AnonymousUser(), api_key

    def authenticate_header(self, request):
        return KEYWORD
