"""Response headers and what an anonymous visitor may read, as the probe checked them."""

import pytest
from django.contrib.auth.models import User

from tests.test_settings import run_django


def test_admin_pages_carry_one_content_security_policy(admin_client):
    response = admin_client.get("/admin/", secure=True)
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]  # no inline scripts
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_api_docs_page_runs_under_the_policy(admin_client):
    """Swagger UI's start-up script is served from a URL, not inline, so the policy allows it."""
    page = admin_client.get("/api/docs/").content.decode()
    assert "<script>" not in page and "/api/docs/?script" in page
    script = admin_client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_a_direct_client_cannot_claim_https_to_skip_the_redirect(client, db, settings):
    """The probe talked to gunicorn directly with X-Forwarded-Proto: https and was served over HTTP."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    direct = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="203.0.113.9")
    assert direct.status_code == 301 and direct["Location"].startswith("https://")
    proxied = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.0.0.1")
    assert proxied.status_code == 200


def test_the_proxy_ssl_header_is_only_trusted_with_a_trusted_proxy_configured():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_AGE)"
    )
    base = {"SECRET_KEY": "x" * 60, "FIELD_ENCRYPTION_KEYS": "a" * 43}
    assert run_django(code, **base).stdout.split() == ["None", str(9 * 3600)]
    out = run_django(code, **base, TRUSTED_PROXIES="10.0.0.1,10.1.0.0/16", SESSION_COOKIE_AGE="3600")
    assert out.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https') 3600"


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_a_login_outside_debug(client, db, settings, path):
    settings.API_DOCS_PUBLIC = False
    anonymous = client.get(path)
    assert anonymous.status_code in (302, 401, 403)
    if anonymous.status_code == 302:
        assert anonymous["Location"].startswith("/admin/login/")
    client.force_login(User.objects.create_user("reader", password="pw-reader-12345"))
    assert client.get(path).status_code == 200


def test_schema_and_docs_can_be_made_public(client, db, settings):
    settings.API_DOCS_PUBLIC = True
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
