"""The exceptions of the adapter contract (see ``base``), apart so the wire helpers can raise them."""

from __future__ import annotations


class VendorError(Exception):
    """The vendor refused the request (bad credentials, no balance, bad parameter): not retried."""

    def __init__(self, code: str, message: str):
        super().__init__(f"[{code}] {message}")
        self.code = str(code)
        self.message = message


class VendorUnavailable(Exception):
    """The vendor could not be reached or failed (connection, timeout, HTTP 5xx): retried later.

    ``maybe_delivered`` is True when the request may have reached the vendor (read timeout, a
    connection dropped before the answer): such calls are never re-sent blindly but reconciled.
    """

    def __init__(self, message: str, *, maybe_delivered: bool = False):
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class NotSupported(Exception):
    """The vendor's API has no such operation."""


class CallbackRejected(Exception):
    """A pushed body that cannot be authenticated or read (wrong appId, wrong key, not the format).

    The callback view answers it with HTTP 400/403 and applies nothing; the raw body stays stored.
    """


class Refused(Exception):
    """One call refused here, before any request (a number or content the vendor cannot take).

    Raised by an adapter's ``precheck``; the send loop turns it into that call's refused
    ``SubmitResult`` and sends the others.
    """

    def __init__(self, code: str, message: str):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


BAD_OPTION = "bad_option"  # the one error code of an account option that cannot be used
