"""Parse a raw ClientHello with s2n-tls, without a connection (``s2n_client_hello_parse_message``)."""

from __future__ import annotations

from s2n_bridge._native import native
from s2n_bridge.errors import error_from_errno

__all__ = ["parse_client_hello"]


def parse_client_hello(message: bytes) -> bytes:
    """Have s2n parse a ClientHello handshake message (with its 4-byte header).

    Returns the message body as s2n holds it (s2n erases the 32-byte random); raises a typed ``S2NError`` for
    anything s2n rejects.
    """
    ffi, lib = native()
    client_hello = lib.s2n_client_hello_parse_message(ffi.from_buffer(message), len(message))
    if client_hello == ffi.NULL:
        raise error_from_errno(ffi, lib, lib.s2n_errno_location()[0], "s2n_client_hello_parse_message")
    holder = ffi.new("struct s2n_client_hello **", client_hello)
    try:
        length = lib.s2n_client_hello_get_raw_message_length(client_hello)
        buffer = ffi.new("uint8_t[]", max(length, 1))
        copied = lib.s2n_client_hello_get_raw_message(client_hello, buffer, length)
        if copied < 0:
            raise error_from_errno(ffi, lib, lib.s2n_errno_location()[0], "s2n_client_hello_get_raw_message")
        return bytes(ffi.buffer(buffer, copied))
    finally:
        lib.s2n_client_hello_free(holder)
