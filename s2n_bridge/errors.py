"""Typed exceptions for s2n-tls errors, one per s2n error type.

Each carries s2n's stable error name (``s2n_strerror_name``, e.g.
``S2N_ERR_BAD_MESSAGE``), its English message, and the alert the peer sent, if any.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "S2NAlertError",
    "S2NBlockedError",
    "S2NClosedError",
    "S2NError",
    "S2NIOError",
    "S2NInternalError",
    "S2NProtocolError",
    "S2NUsageError",
    "error_from_errno",
]


class S2NError(Exception):
    """A call into s2n-tls failed."""

    def __init__(self, name: str, message: str, *, call: str, alert: int | None = None) -> None:
        super().__init__(f"{call}: {name}: {message}")
        self.name = name
        self.message = message
        self.call = call
        self.alert = alert


class S2NIOError(S2NError):
    """An I/O error underneath s2n-tls (S2N_ERR_T_IO)."""


class S2NClosedError(S2NError):
    """The connection is closed (S2N_ERR_T_CLOSED)."""


class S2NBlockedError(S2NError):
    """The call would block (S2N_ERR_T_BLOCKED)."""


class S2NAlertError(S2NError):
    """The peer sent an alert (S2N_ERR_T_ALERT); ``alert`` holds its description."""


class S2NProtocolError(S2NError):
    """The peer broke the protocol, or the input is malformed (S2N_ERR_T_PROTO)."""


class S2NInternalError(S2NError):
    """An internal s2n-tls error (S2N_ERR_T_INTERNAL)."""


class S2NUsageError(S2NError):
    """The API was misused, e.g. an unknown security policy (S2N_ERR_T_USAGE)."""


def _classes(lib: Any) -> dict[int, type[S2NError]]:
    return {
        lib.S2N_ERR_T_IO: S2NIOError,
        lib.S2N_ERR_T_CLOSED: S2NClosedError,
        lib.S2N_ERR_T_BLOCKED: S2NBlockedError,
        lib.S2N_ERR_T_ALERT: S2NAlertError,
        lib.S2N_ERR_T_PROTO: S2NProtocolError,
        lib.S2N_ERR_T_INTERNAL: S2NInternalError,
        lib.S2N_ERR_T_USAGE: S2NUsageError,
    }


def error_from_errno(ffi: Any, lib: Any, errno: int, call: str, alert: int | None = None) -> S2NError:
    """Build the typed exception for an ``s2n_errno`` value read right after a failed call."""
    name = ffi.string(lib.s2n_strerror_name(errno)).decode()
    message = ffi.string(lib.s2n_strerror(errno, b"EN")).decode()
    error_class = _classes(lib).get(lib.s2n_error_get_type(errno), S2NError)
    return error_class(name, message, call=call, alert=alert)
