"""gunicorn's access log without callback tokens (``deploy/gunicorn.conf.py`` uses it).

A vendor authenticates by the token in its callback URL (``/api/callbacks/<vendor>/<token>/``);
an access log that kept it would hand it to anyone who can read the logs.
"""

from gunicorn.glogging import Logger

from .log_masking import mask_callback_tokens


class MaskingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        # every atom: the request line, path, referrer, and any header or environ atom a custom
        # access_log_format might name ({raw_uri}e, {referer}i, …)
        return {
            key: mask_callback_tokens(value) for key, value in super().atoms(resp, req, environ, request_time).items()
        }
