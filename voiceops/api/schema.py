"""How the OpenAPI schema is generated: what a client generator needs, and nothing for engineers only.

- Every operation documents every error status it can answer with the one error body
  (``voiceops.api.errors.ErrorSerializer``); drf-standardized-errors decides which statuses apply
  (400 for bodies and filters, 401/403 for authentication, 404 for path ids and pages, …). Its
  generic example of a status ("Throttled" for 429) is left out where the operation gives its own.
- Docstrings are notes for engineers and stay out of the schema: descriptions come only from
  ``extend_schema``/``extend_schema_serializer`` and field ``help_text``.
- Names are English whatever the caller's language: a field's ``title`` (its label) is what client
  generators name inline enums and models by (openapi-python-client: ``CallsListState``), so it is
  always the English label; descriptions follow the request's language.
- Every POST that creates something (201) links to the operations on what it created (OpenAPI
  links), so clients and schemathesis' stateful tests can follow them.
"""

from __future__ import annotations

import re

from django.utils import translation
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import get_override, is_trivial_string_variation
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from rest_framework import serializers

from .errors import ErrorSerializer
from .serializers import RefuseUnknownFields

ERROR_DESCRIPTIONS = {
    "400": "The request is invalid: each error names the field (`attr`) and says what to correct",
    "401": "No credentials, or an unknown, revoked or expired API key",
    "403": "The user or API key may not do this",
    "404": "No such object, page or URL",
    "405": "The method is not allowed on this URL",
    "406": "No answer in a media type the Accept header allows (the API answers JSON)",
    "409": "The object is in a state that does not allow this; the detail says why",
    "413": "The request body is too large",
    "415": "Unsupported Content-Type for this operation",
    "422": "The request cannot be processed as sent; the detail says why",
    "429": "Too many requests; the detail says when to try again",
    "500": "Server error; it has been logged",
}


RETRY_AFTER = {
    "description": "Seconds until the request may be sent again",
    "schema": {"type": "integer", "minimum": 1},
}


class AutoSchema(StandardizedErrorsAutoSchema):
    def _get_error_response_serializer(self, status_code):
        return ErrorSerializer

    # A GET or DELETE body is never read: no parse error (400) or unsupported media type (415).
    def _should_add_parse_error_response(self):
        return self.method in ("POST", "PUT", "PATCH") and super()._should_add_parse_error_response()

    def _should_add_http415_error_response(self):
        return self.method in ("POST", "PUT", "PATCH") and super()._should_add_http415_error_response()

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        if not response.get("description") and str(status_code) in ERROR_DESCRIPTIONS:
            response["description"] = ERROR_DESCRIPTIONS[str(status_code)]
        if str(status_code) == "429":
            response["headers"] = {"Retry-After": RETRY_AFTER}
        return response

    def _get_examples(self, serializer, direction, media_type, status_code=None, extras=None):
        # drf-standardized-errors adds its generic example to every response of that status, beside
        # the operation's own (a "Throttled" that says nothing of which limit): the operation's own win.
        if direction == "response" and status_code and self._declares_examples(status_code, extras):
            return SpectacularAutoSchema._get_examples(self, serializer, direction, media_type, status_code, extras)
        return super()._get_examples(serializer, direction, media_type, status_code, extras)

    def _declares_examples(self, status_code, extras) -> bool:
        """Whether the operation gives examples of this response: on it (``OpenApiResponse``) or by status."""
        on_response = [e for e in extras or () if not e.status_codes or str(status_code) in map(str, e.status_codes)]
        by_status = [e for e in self.get_examples() if str(status_code) in map(str, e.status_codes or ())]
        return bool(on_response or by_status)

    def get_description(self):
        return ""  # not the docstrings; extend_schema(description=…) replaces this

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if get_override(serializer, "description", None) is None:
            schema.pop("description", None)
        if direction == "request" and isinstance(serializer, RefuseUnknownFields):
            schema["additionalProperties"] = False  # the server refuses any other field by name
        optional = getattr(serializer, "optional_in_response", ())
        if direction == "response" and optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
        return schema

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if "title" in meta:  # generators make identifiers of titles: the English label, not the caller's
            with translation.override("en"):
                title = str(field.label)
            if is_trivial_string_variation(title, field.field_name):
                del meta["title"]
            else:
                meta["title"] = title
        return meta

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # DRF refuses NUL characters in every text field: say so, so clients do not send them.
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and "pattern" not in schema
            and "format" not in schema
        ):
            schema["pattern"] = "^[^\\u0000]*$"
        if schema.get("type") == "array":  # a custom list field states its bounds as min_items/max_items
            for attr, key in (("min_items", "minItems"), ("max_items", "maxItems")):
                if getattr(field, attr, None) is not None:
                    schema[key] = getattr(field, attr)
        return schema

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:  # ids are integers; the URL pattern that says so is no extra rule
            if parameter["schema"].get("type") == "integer":
                parameter["schema"].pop("pattern", None)
        return parameters

    def _map_response_type_hint(self, method):
        schema = super()._map_response_type_hint(method)
        schema.pop("description", None)
        return schema


def multi_body_not_required(result, generator, request, public):
    """An operation taking several body types (the recipients upload) says its body is not required.

    openapi-python-client 0.28–0.29 types such a body ``A | B | Unset`` whatever ``required`` says
    and imports ``Unset`` only for a body that is not required (its issue #1451): with
    ``required: true`` the generated module does not import. Sent without a body, the operation
    answers 400 naming the missing field, as its description says.
    """
    for _path, _method, operation in _operations(result):
        body = operation.get("requestBody")
        if body and len(body.get("content", {})) > 1:
            body["required"] = False
    return result


def _operations(schema):
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                yield path, method, operation


def add_links(result, generator, request, public):
    """Link each created object (201 with an ``id``) to the operations on it, and uploads to their import."""
    operations = list(_operations(result))
    for path, method, operation in operations:
        if method != "post":
            continue
        if "201" in operation.get("responses", {}):
            prefix = path + "{id}/"
            targets = {
                op["operationId"]: {"id": "$response.body#/id"}
                for p, _m, op in operations
                if p.startswith(prefix) and re.fullmatch(r"[^{}]*\{id\}/[^{}]*", p)
            }
            _link(operation["responses"]["201"], targets)
        if "202" in operation.get("responses", {}):
            # An upload answers the import it started: {"import": id, "progress_url": …}
            targets = {
                op["operationId"]: {"id": "$response.body#/import"}
                for p, m, op in operations
                if p == "/api/imports/{id}/" and m == "get"
            }
            _link(operation["responses"]["202"], targets)
    return result


def _link(response: dict, targets: dict) -> None:
    if targets:
        response["links"] = {
            _link_name(operation_id): {"operationId": operation_id, "parameters": parameters}
            for operation_id, parameters in sorted(targets.items())
        }


def _link_name(operation_id: str) -> str:
    return "".join(part.capitalize() for part in operation_id.split("_"))
