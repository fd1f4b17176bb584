"""gunicorn settings for VoiceOps behind nginx (deploy/nginx.conf).

    gunicorn -c deploy/gunicorn.conf.py voiceops.wsgi

Callback tokens are masked in the access log (voiceops/gunicorn_logging.py). Set the environment
variable TRUSTED_PROXIES to nginx's address so VoiceOps believes its X-Forwarded-For.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # nginx in front; never exposed directly
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
timeout = 60
graceful_timeout = 30
max_requests = 10000  # recycle workers now and then
max_requests_jitter = 1000
limit_request_line = 8190
accesslog = "-"
errorlog = "-"
logger_class = "voiceops.gunicorn_logging.MaskingLogger"
# gunicorn itself trusts X-Forwarded-* only from these addresses (nginx on the same host)
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
