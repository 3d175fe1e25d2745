"""ClientHello extension bodies read as s2n-tls's server reads them (tls/extensions/s2n_client_*.c).

The typed codecs of ``engine.wire.extensions`` read a body as RFC 8446 defines it:
every vector within its bounds, nothing after it (``DecodeError`` otherwise). s2n's
receive functions are lenient in their own ways, each differently: most check a list's
length only against the bytes available (trailing bytes are ignored), accept empty
lists, and *ignore* a malformed extension instead of failing the handshake. Each
function here is one such receive function, cited by file and line, over the bounded
``Reader``; a malformation s2n ignores returns None, one s2n fails on raises
``DecodeError`` (s2n's ``S2N_ERR_STUFFER_OUT_OF_DATA`` / ``S2N_ERR_BAD_MESSAGE``).

>>> s2n_supported_groups(bytes.fromhex("0002001d" "ff"))  # a trailing byte is ignored
(29,)
>>> s2n_supported_groups(bytes.fromhex("0004001d")) is None  # a list longer than the body: ignored
True
>>> s2n_server_name(bytes.fromhex("0000" "00" "0009") + b"localhost")  # list length 0, still read
b'localhost'
"""

from __future__ import annotations

import struct

from engine.errors import DecodeError
from engine.wire.reader import Reader

__all__ = [
    "S2N_MAX_SERVER_NAME",
    "S2N_SIGNATURE_SCHEME_LIST_MAX_LEN",
    "S2nKeyShareEntry",
    "s2n_key_share_entries",
    "s2n_psk_dhe_ke",
    "s2n_select_protocol",
    "s2n_server_name",
    "s2n_signature_schemes",
    "s2n_supported_groups",
    "s2n_supported_versions",
]

S2N_MAX_SERVER_NAME = 255
"""tls/s2n_connection.h: ``char server_name[S2N_MAX_SERVER_NAME + 1]``; a longer name is ignored."""

S2N_SIGNATURE_SCHEME_LIST_MAX_LEN = 128
"""tls/s2n_tls_parameters.h:159 ``TLS_SIGNATURE_SCHEME_LIST_MAX_LEN``: more schemes fail the handshake."""

_HOST_NAME = 0
_PSK_DHE_KE = 1
_TLS13 = 34  # s2n's numbering: major * 10 + minor

S2nKeyShareEntry = tuple[int, bytes]
"""One key share entry as s2n reads it: (group, key_exchange), the share possibly empty."""


def s2n_server_name(body: bytes | memoryview) -> bytes | None:
    """The host name ``s2n_client_server_name_recv`` keeps, or None (tls/extensions/s2n_client_server_name.c:49-88).

    ``s2n_client_server_name_parse`` reads the list length (it must not exceed the bytes
    left, but the entry is read from the body, not from the list), then only the first
    entry: its type must be host_name, its length within the body. A zero-length name is
    read. Anything after the first entry is ignored, and so is the whole extension when
    any of that fails or the name is longer than 255 bytes. s2n stores the name in a C
    string: it ends at the first NUL byte, and an empty one means no name.

    >>> s2n_server_name(bytes.fromhex("000c" "01" "0001") + b"x" + bytes.fromhex("00" "0003") + b"abc") is None
    True
    >>> s2n_server_name(bytes.fromhex("0008" "00" "0005") + b"ab\\x00cd")
    b'ab'
    """
    reader = Reader(body)
    if reader.remaining < 2:
        return None
    list_size = reader.uint(2)
    if list_size > reader.remaining or reader.remaining < 1 or reader.uint(1) != _HOST_NAME:
        return None
    if reader.remaining < 2:
        return None
    length = reader.uint(2)
    if length > reader.remaining or length > S2N_MAX_SERVER_NAME:
        return None
    name = bytes(reader.bytes(length)).split(b"\x00", 1)[0]
    return name or None


def s2n_supported_groups(body: bytes | memoryview) -> tuple[int, ...] | None:
    """The named groups ``s2n_client_supported_groups_recv`` reads, or None when it ignores the extension.

    tls/extensions/s2n_client_supported_groups.c:83-100 (``s2n_supported_groups_parse_count``)
    and 184-204: the list length must fit the body and be even; bytes after the list are
    ignored; an empty list is read (and leaves no group in common). A body too short for
    the length is ignored too (the failed read is a parse error, and parse errors are ignored).
    """
    reader = Reader(body)
    if reader.remaining < 2:
        return None
    size = reader.uint(2)
    if size > reader.remaining or size % 2:
        return None
    return _uint16s(reader.bytes(size))


def s2n_signature_schemes(body: bytes | memoryview) -> tuple[int, ...] | None:
    """The schemes ``s2n_recv_supported_sig_scheme_list`` reads, or None when it ignores the list.

    tls/s2n_signature_algorithms.c:346-378: fewer than two bytes fail
    (``S2N_ERR_STUFFER_OUT_OF_DATA``); a list length beyond the body, or odd, is ignored;
    more than 128 schemes fail (``S2N_ERR_TOO_MANY_SIGNATURE_SCHEMES``); bytes after the
    list are ignored; repeated and unknown schemes are kept.
    """
    reader = Reader(body)
    size = reader.uint(2)
    if size > reader.remaining or size % 2:
        return None
    if size // 2 > S2N_SIGNATURE_SCHEME_LIST_MAX_LEN:
        raise DecodeError(f"{size // 2} signature schemes; s2n reads at most {S2N_SIGNATURE_SCHEME_LIST_MAX_LEN}")
    return _uint16s(reader.bytes(size))


def _uint16s(data: memoryview) -> tuple[int, ...]:
    """``data`` (of an even length) as big-endian uint16s, unpacked at once rather than one read each."""
    return struct.unpack(f">{len(data) // 2}H", data)


def s2n_supported_versions(body: bytes | memoryview, minimum_version: int) -> int | None:
    """The version ``s2n_extensions_client_supported_versions_process`` selects (a wire value), or None.

    tls/extensions/s2n_client_supported_versions.c:76-137: the one-byte list length must be
    the rest of the body and even; only 3.x with x <= 4 count; the highest one within the
    policy's minimum and TLS 1.3 wins. None for a malformed body or no acceptable version
    (s2n then answers protocol_version).

    >>> hex(s2n_supported_versions(bytes.fromhex("04" "0304" "7f1c"), 0x0301))
    '0x304'
    """
    reader = Reader(body)
    if reader.remaining < 1:
        return None
    size = reader.uint(1)
    if size != reader.remaining or size % 2:
        return None
    selected: int | None = None
    minimum = ((minimum_version >> 8) * 10 + (minimum_version & 0xFF)) & 0xFF
    versions = bytes(reader.bytes(size))
    for major, minor in zip(versions[::2], versions[1::2], strict=True):
        version = major * 10 + minor
        if major == 3 and minor <= 4 and minimum <= version <= _TLS13:
            selected = max(selected or 0, version)
    return None if selected is None else 0x0300 + selected - 30


def s2n_key_share_entries(body: bytes | memoryview) -> tuple[S2nKeyShareEntry, ...]:
    """The entries ``s2n_client_key_share_recv`` walks (tls/extensions/s2n_client_key_share.c:450-479).

    The list length must be exactly the rest of the body (``S2N_ERR_BAD_MESSAGE``); each
    entry's group, length and share must be there (``DecodeError``). Which entries s2n
    then uses is for the caller (``engine.crypto.key_exchange.usable_key_share``).
    """
    reader = Reader(body)
    entries = reader.sub_reader(2)
    reader.expect_end()
    read: list[S2nKeyShareEntry] = []
    while entries.remaining:
        group, key_exchange = entries.type_and_body()
        read.append((group, bytes(key_exchange)))
    return tuple(read)


def s2n_psk_dhe_ke(body: bytes | memoryview) -> bool:
    """Whether ``s2n_psk_key_exchange_modes_recv`` finds psk_dhe_ke (tls/extensions/s2n_psk_key_exchange_modes.c).

    An empty body fails (the length byte is missing); a list length beyond the body makes
    s2n ignore the list (the extension still counts as received); modes after the list
    are not read.
    """
    reader = Reader(body)
    size = reader.uint(1)
    if size > reader.remaining:
        return False
    return _PSK_DHE_KE in bytes(reader.bytes(size))


def _client_protocol_matches(client_list: bytes, protocol: bytes) -> bool:
    """``s2n_protocol_preferences_contain`` (tls/s2n_protocol_preferences.c:36-57) over the client's list.

    The walk stops at the first match; an empty or overrunning entry reached before it
    fails (``s2n_protocol_preferences_read``, lines 20-34).
    """
    reader = Reader(client_list)
    while reader.remaining:
        length = reader.uint(1)
        if length == 0:
            raise DecodeError("an empty ALPN protocol name")
        if bytes(reader.bytes(length)) == protocol:
            return True
    return False


def s2n_select_protocol(server_protocols: tuple[bytes, ...], body: bytes | memoryview) -> bytes | None:
    """The protocol ``s2n_client_alpn_recv`` selects (tls/extensions/s2n_client_alpn.c), or None.

    A server with no protocols configured ignores the extension. Otherwise fewer than two
    bytes fail; a list length beyond the body or below 3 is ignored; bytes after the list
    are ignored. ``s2n_select_server_preference_protocol`` (tls/s2n_protocol_preferences.c:
    137-160) then takes the server's protocols in order and walks the client's list for
    each: a malformed entry fails the handshake only if a walk reaches it before a match.

    >>> s2n_select_protocol((b"h2",), bytes.fromhex("0005" "02") + b"h2" + bytes.fromhex("0000"))  # an empty name after
    b'h2'
    """
    if not server_protocols:
        return None
    reader = Reader(body)
    size = reader.uint(2)
    if size > reader.remaining or size < 3:
        return None
    client_list = bytes(reader.bytes(size))
    return next((protocol for protocol in server_protocols if _client_protocol_matches(client_list, protocol)), None)
