"""Who is calling the API, as one string: the scope of idempotency keys and of the daily call cap.

The one place to change when requests authenticate with named API keys instead of user tokens.
"""


def credential_id(request) -> str:
    """A stable identity for the credential behind ``request`` (never the secret itself)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return "anonymous"
