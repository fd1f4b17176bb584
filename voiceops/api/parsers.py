"""Request body parsers: DRF's, hardened where a hostile body could make them fail with a 500, and
saying what is wrong with a body in the caller's language instead of Python's English."""

import json

from django.utils.translation import gettext
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """JSON nested deeper than Python's recursion limit (``[[[[…]]]]``) is a parse error (400), not a crash."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(gettext("JSON parse error - the body is nested too deeply.")) from exc
        except ParseError as exc:  # DRF's "JSON parse error - <Python's exception>"
            raise ParseError(unreadable_body(exc.__context__, parsers.get_encoding(parser_context or {}))) from exc


def unreadable_body(error, encoding: str) -> str:
    """Where and how a body fails to be JSON, in words a caller can fix it by."""
    if isinstance(error, UnicodeDecodeError):
        return gettext(
            "The body is not %(encoding)s text (it holds the byte 0x%(byte)s, which %(encoding)s cannot have): "
            "send the JSON encoded as UTF-8."
        ) % {"encoding": encoding.upper(), "byte": f"{error.object[error.start]:02X}"}
    if isinstance(error, json.JSONDecodeError):
        return gettext(
            "The body is not valid JSON (line %(line)d, column %(column)d): "
            "check the quotes, commas and brackets there."
        ) % {"line": error.lineno, "column": error.colno}
    return gettext("The body is not valid JSON: NaN and Infinity are not numbers JSON allows.")
