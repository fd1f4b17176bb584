"""How the ``Idempotency-Key`` header and its answers appear in the API schema, for every creating POST."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from voiceops.api.errors import ErrorSerializer

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # What the service accepts: 1 to 255 printable ASCII characters (a header holds no others), no blank ends.
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]([ -~]*[!-~])?$"},
    OpenApiParameter.HEADER,
    description="Any unique string up to 255 characters. Sent again with the same body, the first answer is "
    "replayed (header `Idempotent-Replayed: true`) and nothing more is created; with another body: 422. "
    "Kept 24 hours, per API key.",
)
IDEMPOTENCY_RESPONSES = {
    409: OpenApiResponse(
        ErrorSerializer,
        description="A request with this Idempotency-Key is still in progress (code `idempotency_key_in_progress`); "
        "retry after the Retry-After header's seconds",
    ),
    422: OpenApiResponse(
        ErrorSerializer, description="This Idempotency-Key was used with a different request (`idempotency_key_reused`)"
    ),
}
