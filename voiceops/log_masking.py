"""Callback tokens never reach a log line.

A vendor authenticates by the token in its callback URL (``/api/callbacks/<vendor>/<token>/``).
Django logs the path of every refused request ("Forbidden: /api/callbacks/…"), gunicorn and nginx
log request lines: each goes through ``mask_callback_tokens`` first.
"""

import logging
import re

CALLBACK_TOKEN = re.compile(r"(/api/callbacks/[^/?#\s]+/)[^/?#\s]+")


def mask_callback_tokens(text):
    return CALLBACK_TOKEN.sub(r"\1***", text) if isinstance(text, str) else text


class MaskCallbackTokens(logging.Filter):
    """A handler filter: the formatted message with any callback token masked."""

    def filter(self, record):
        message = record.getMessage()
        masked = mask_callback_tokens(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
