"""Request body parsers: DRF's, hardened where a hostile body could make them fail with a 500."""

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
