"""Single calls over the API: helpers shared by the modules (plain functions, real rows, no mocks)."""

from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def integrator(name: str = "crm") -> APIClient:
    """An API client with a token of a user allowed to place and read single calls (another system)."""
    user = User.objects.create_user(f"{name}-{User.objects.count() + 1}", password="pw-1234-long")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["add_singlecall", "view_singlecall"]))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.user = user
    return client
