"""Whether a view handles a request's method: DRF checks permissions before it looks that up."""


def handles_method(request, view) -> bool:
    """False for a method the view does not have, which dispatch answers with 405.

    A permission that refuses such a request answers 403 first (a key was told "This operation is
    not open to API keys" for ``PUT /api/calls/1/``): permissions pass these on to dispatch.
    """
    method = request.method.lower()
    return method in view.http_method_names and hasattr(view, method)
