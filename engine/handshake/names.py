"""s2n-tls's names for handshake types and messages, so engine traces line up with s2n's.

``s2n_connection_get_handshake_type_name`` joins the set flags in this order;
``s2n_connection_get_last_message_name`` names the message at the connection's
position in its handshake type's message sequence (``engine.handshake.sequence``).
"""

from __future__ import annotations

from enum import IntFlag, StrEnum
from functools import cache

__all__ = ["HandshakeFlags", "Message", "handshake_type_name"]


class HandshakeFlags(IntFlag):
    """The TLS 1.3 handshake-type flags s2n tracks (tls/s2n_handshake_io.c)."""

    INITIAL = 0
    NEGOTIATED = 1
    FULL_HANDSHAKE = 2
    CLIENT_AUTH = 4
    NO_CLIENT_CERT = 8
    HELLO_RETRY_REQUEST = 16
    MIDDLEBOX_COMPAT = 32
    WITH_EARLY_DATA = 64
    EARLY_CLIENT_CCS = 128


class Message(StrEnum):
    """The TLS 1.3 entries of s2n's ``message_type_t`` the engine can reach, by s2n's ``message_names``.

    Not here: CLIENT_CERT, CLIENT_CERT_VERIFY, SERVER_CERT_REQ (client authentication)
    and END_OF_EARLY_DATA (early data), which the engine does not implement.
    """

    CLIENT_HELLO = "CLIENT_HELLO"
    SERVER_HELLO = "SERVER_HELLO"
    HELLO_RETRY_MSG = "HELLO_RETRY_MSG"
    ENCRYPTED_EXTENSIONS = "ENCRYPTED_EXTENSIONS"
    SERVER_CERT = "SERVER_CERT"
    SERVER_CERT_VERIFY = "SERVER_CERT_VERIFY"
    SERVER_FINISHED = "SERVER_FINISHED"
    CLIENT_FINISHED = "CLIENT_FINISHED"
    SERVER_CHANGE_CIPHER_SPEC = "SERVER_CHANGE_CIPHER_SPEC"
    CLIENT_CHANGE_CIPHER_SPEC = "CLIENT_CHANGE_CIPHER_SPEC"
    APPLICATION_DATA = "APPLICATION_DATA"


@cache  # asked for after every step of every connection; there are at most 2^8 flag sets
def handshake_type_name(flags: HandshakeFlags) -> str:
    """The name s2n gives a handshake type, e.g. ``NEGOTIATED|FULL_HANDSHAKE|MIDDLEBOX_COMPAT``."""
    if flags == HandshakeFlags.INITIAL:
        return "INITIAL"
    names = [flag.name or "" for flag in HandshakeFlags if flag and (flag & flags) == flag]
    return "|".join(names)
