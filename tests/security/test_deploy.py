"""The deploy/ configuration keeps callback tokens out of access logs."""

import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config

from voiceops.gunicorn_logging import MaskingLogger

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Zq8sFh2kLm9Xc4VbN1pR7tY0uW3eA6dG5jK8oI2hQ"


def test_gunicorn_config_uses_the_masking_logger():
    namespace: dict = {}
    exec((ROOT / "deploy" / "gunicorn.conf.py").read_text(), namespace)
    assert namespace["logger_class"] == "voiceops.gunicorn_logging.MaskingLogger"
    assert namespace["bind"].startswith("127.0.0.1:")


def test_gunicorn_access_log_masks_the_callback_token():
    logger = MaskingLogger(Config())
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/api/callbacks/ihuyi/{TOKEN}/?a=1",
        "PATH_INFO": f"/api/callbacks/ihuyi/{TOKEN}/",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"https://x/api/callbacks/emay/{TOKEN}/",
    }
    resp = SimpleNamespace(status="200 OK", sent=7, headers=[])
    req = SimpleNamespace(headers=[("REFERER", f"https://x/api/callbacks/emay/{TOKEN}/")])
    atoms = logger.atoms(resp, req, environ, timedelta(milliseconds=3))
    line = logger.cfg.access_log_format % atoms
    assert TOKEN not in line and "/api/callbacks/ihuyi/***/?a=1" in line
    assert TOKEN not in str(atoms)


def test_nginx_log_format_masks_the_callback_token():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    pattern, replacement = re.search(
        r'map \$request_uri \$voiceops_masked_uri \{\s*"~([^"]+)"\s+"([^"]+)"', conf
    ).groups()
    python_pattern = pattern.replace("(?<", "(?P<")  # PCRE's named groups in Python's spelling
    python_replacement = re.sub(r"\$\{(\w+)\}", r"\\g<\1>", replacement)
    masked = re.sub(python_pattern, python_replacement, f"/api/callbacks/fungo/{TOKEN}/?args=1")
    assert masked == "/api/callbacks/fungo/***/?args=1"
    log_format = re.search(r"log_format voiceops (.+?);", conf, re.S).group(1)
    assert "$voiceops_masked_uri" in log_format and "$request " not in log_format and "$request_uri" not in log_format
    assert "access_log /var/log/nginx/voiceops.access.log voiceops;" in conf
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf


def test_a_refused_callback_leaves_no_token_in_the_application_log(client, db, caplog, settings):
    """Django logs the path of every refused request ("Forbidden: /api/callbacks/…")."""
    import logging

    from tests.factories import make_account
    from voiceops.log_masking import MaskCallbackTokens

    account = make_account("ihuyi", callback_allowed_ips="192.0.2.7")
    caplog.set_level(logging.WARNING)
    assert (
        client.post(f"/api/callbacks/ihuyi/{account.callback_token}/", data=b"x", content_type="text/plain").status_code
        == 403
    )
    refused = [r for r in caplog.records if r.name == "django.request"]
    assert refused and settings.LOGGING["handlers"]["console"]["filters"] == ["mask_callback_tokens"]
    for record in refused:  # the console handler's filter has masked the record every handler shares
        MaskCallbackTokens().filter(record)
        assert account.callback_token not in record.getMessage() and "/api/callbacks/ihuyi/***/" in record.getMessage()
