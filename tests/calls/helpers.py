"""Single calls over the API: helpers shared by the modules (plain functions, real rows, no mocks)."""

from rest_framework.test import APIClient

from apikeys.models import ApiKey
from apikeys.scopes import SEND_CALLS


def integrator(name: str = "crm", scopes=(SEND_CALLS,)) -> APIClient:
    """An API client with a key of another system allowed to place and read single calls."""
    key, secret = ApiKey.objects.create_key(name=f"{name}-{ApiKey.objects.count() + 1}", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    client.api_key = key
    return client
