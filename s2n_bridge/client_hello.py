"""Parse a raw ClientHello with s2n-tls, without a connection (``s2n_client_hello_parse_message``).

``parse_client_hello`` returns the message as s2n holds it; ``parse_client_hello_fields``
reads back every field s2n's public ClientHello getters expose (api/s2n.h), as a
``ParsedClientHello``. The ``s2n_client_hello`` lives only inside each call: it is freed
in a ``finally`` and every getter copies into Python-owned buffers first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s2n_bridge._native import native
from s2n_bridge.errors import error_from_errno

__all__ = ["S2N_PARSED_EXTENSION_TYPES", "ParsedClientHello", "parse_client_hello", "parse_client_hello_fields"]

S2N_PARSED_EXTENSION_TYPES: tuple[int, ...] = (
    0xFF01, 0xFE01, 0, 1, 5, 10, 11, 13, 16, 18, 35, 43, 51, 44, 57, 45, 41, 42, 23, 13172, 47,
)  # fmt: skip
"""The extension types s2n parses into its table, in the table's order (``s2n_supported_extensions``,
tls/extensions/s2n_extension_type.h); it keeps other types only in the raw block."""

_RANDOM_SIZE = 32  # S2N_TLS_RANDOM_DATA_LEN
_SUPPORTED_GROUPS = 10
_SERVER_NAME = 0


@dataclass(frozen=True, slots=True)
class ParsedClientHello:
    """A ClientHello as s2n-tls's getters report it after ``s2n_client_hello_parse_message``.

    ``legacy_version`` is s2n's one-byte form, ``major * 10 + minor`` truncated to a byte
    (tls/s2n_client_hello.c, ``s2n_client_hello_parse_raw``): 0x0303 reads 33.
    ``raw_message`` is the body with the random zeroed (s2n erases it on parse).
    ``extensions`` splits s2n's raw extensions block (which ``s2n_extension_list_parse``
    has walked and bounded) into (type, body) in wire order; ``parsed_extensions`` is
    s2n's own table of the types it knows, in ``S2N_PARSED_EXTENSION_TYPES`` order, read
    through ``s2n_client_hello_has_extension`` and ``s2n_client_hello_get_extension_by_id``.
    ``supported_groups`` and ``server_name`` are None where s2n's getter fails (absent or,
    by its reading, malformed); ``legacy_record_version`` is None without a record.
    """

    raw_message: bytes
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: bytes
    compression_methods: bytes
    extensions_block: bytes
    extensions: tuple[tuple[int, bytes], ...]
    parsed_extensions: tuple[tuple[int, bytes], ...]
    supported_groups: tuple[int, ...] | None
    server_name: bytes | None
    legacy_record_version: int | None


def _fail(ffi: Any, lib: Any, call: str) -> Exception:
    # s2n_errno is per thread and overwritten by the next call: read it at once.
    return error_from_errno(ffi, lib, lib.s2n_errno_location()[0], call)


def _sized_copy(ffi: Any, lib: Any, client_hello: Any, getter: str) -> bytes:
    """A blob behind an ``ssize_t get_X_length`` / ``ssize_t get_X(out, max)`` pair."""
    length = getattr(lib, f"{getter}_length")(client_hello)
    if length < 0:
        raise _fail(ffi, lib, f"{getter}_length")
    buffer = ffi.new("uint8_t[]", max(length, 1))  # a NULL out buffer is an error even for 0 bytes
    copied = getattr(lib, getter)(client_hello, buffer, length)
    if copied < 0:
        raise _fail(ffi, lib, getter)
    return bytes(ffi.buffer(buffer, copied))


def _session_id(ffi: Any, lib: Any, client_hello: Any) -> bytes:
    length = ffi.new("uint32_t *")
    if lib.s2n_client_hello_get_session_id_length(client_hello, length) < 0:
        raise _fail(ffi, lib, "s2n_client_hello_get_session_id_length")
    buffer = ffi.new("uint8_t[]", max(length[0], 1))
    if lib.s2n_client_hello_get_session_id(client_hello, buffer, length, max(length[0], 1)) < 0:
        raise _fail(ffi, lib, "s2n_client_hello_get_session_id")
    return bytes(ffi.buffer(buffer, length[0]))


def _compression_methods(ffi: Any, lib: Any, client_hello: Any) -> bytes:
    length = ffi.new("uint32_t *")
    if lib.s2n_client_hello_get_compression_methods_length(client_hello, length) < 0:
        raise _fail(ffi, lib, "s2n_client_hello_get_compression_methods_length")
    buffer = ffi.new("uint8_t[]", max(length[0], 1))
    if lib.s2n_client_hello_get_compression_methods(client_hello, buffer, max(length[0], 1), length) < 0:
        raise _fail(ffi, lib, "s2n_client_hello_get_compression_methods")
    return bytes(ffi.buffer(buffer, length[0]))


def _versions(ffi: Any, lib: Any, client_hello: Any) -> tuple[int, int | None]:
    version = ffi.new("uint8_t *")
    if lib.s2n_client_hello_get_legacy_protocol_version(client_hello, version) < 0:
        raise _fail(ffi, lib, "s2n_client_hello_get_legacy_protocol_version")
    record_version = ffi.new("uint8_t *")
    # Fails by design for a parsed message: no record header was seen (record_version_recorded).
    recorded = lib.s2n_client_hello_get_legacy_record_version(client_hello, record_version) == 0
    return version[0], record_version[0] if recorded else None


def _random(ffi: Any, lib: Any, client_hello: Any) -> bytes:
    buffer = ffi.new("uint8_t[]", _RANDOM_SIZE)
    if lib.s2n_client_hello_get_random(client_hello, buffer, _RANDOM_SIZE) < 0:
        raise _fail(ffi, lib, "s2n_client_hello_get_random")
    return bytes(ffi.buffer(buffer, _RANDOM_SIZE))


def _split_block(block: bytes) -> tuple[tuple[int, bytes], ...]:
    """(type, body) of each extension in a block s2n has already walked and bounded."""
    extensions: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(block):
        if offset + 4 > len(block):
            raise RuntimeError("s2n kept an extensions block it could not have parsed")
        size = int.from_bytes(block[offset + 2 : offset + 4], "big")
        body = block[offset + 4 : offset + 4 + size]
        if len(body) != size:
            raise RuntimeError("s2n kept an extensions block it could not have parsed")
        extensions.append((int.from_bytes(block[offset : offset + 2], "big"), body))
        offset += 4 + size
    return tuple(extensions)


def _parsed_extensions(ffi: Any, lib: Any, client_hello: Any) -> tuple[tuple[int, bytes], ...]:
    exists = ffi.new("bool *")
    parsed: list[tuple[int, bytes]] = []
    for extension_type in S2N_PARSED_EXTENSION_TYPES:
        if lib.s2n_client_hello_has_extension(client_hello, extension_type, exists) < 0:
            raise _fail(ffi, lib, "s2n_client_hello_has_extension")
        if not exists[0]:
            continue
        length = lib.s2n_client_hello_get_extension_length(client_hello, extension_type)
        if length < 0:
            raise _fail(ffi, lib, "s2n_client_hello_get_extension_length")
        buffer = ffi.new("uint8_t[]", max(length, 1))
        copied = lib.s2n_client_hello_get_extension_by_id(client_hello, extension_type, buffer, length)
        if copied < 0:
            raise _fail(ffi, lib, "s2n_client_hello_get_extension_by_id")
        parsed.append((extension_type, bytes(ffi.buffer(buffer, copied))))
    return tuple(parsed)


def _supported_groups(ffi: Any, lib: Any, client_hello: Any) -> tuple[int, ...] | None:
    # api/s2n.h: size the array from the extension's length over 2.
    capacity = max(lib.s2n_client_hello_get_extension_length(client_hello, _SUPPORTED_GROUPS) // 2, 1)
    groups = ffi.new("uint16_t[]", capacity)
    count = ffi.new("uint16_t *")
    if lib.s2n_client_hello_get_supported_groups(client_hello, groups, capacity, count) < 0:
        return None
    return tuple(groups[0 : count[0]])


def _server_name(ffi: Any, lib: Any, client_hello: Any) -> bytes | None:
    length = ffi.new("uint16_t *")
    if lib.s2n_client_hello_get_server_name_length(client_hello, length) < 0:
        return None
    buffer = ffi.new("uint8_t[]", max(length[0], 1))
    out_length = ffi.new("uint16_t *")
    if lib.s2n_client_hello_get_server_name(client_hello, buffer, max(length[0], 1), out_length) < 0:
        return None
    return bytes(ffi.buffer(buffer, out_length[0]))


def _read_fields(ffi: Any, lib: Any, client_hello: Any) -> ParsedClientHello:
    legacy_version, record_version = _versions(ffi, lib, client_hello)
    block = _sized_copy(ffi, lib, client_hello, "s2n_client_hello_get_extensions")
    return ParsedClientHello(
        raw_message=_sized_copy(ffi, lib, client_hello, "s2n_client_hello_get_raw_message"),
        legacy_version=legacy_version,
        random=_random(ffi, lib, client_hello),
        session_id=_session_id(ffi, lib, client_hello),
        cipher_suites=_sized_copy(ffi, lib, client_hello, "s2n_client_hello_get_cipher_suites"),
        compression_methods=_compression_methods(ffi, lib, client_hello),
        extensions_block=block,
        extensions=_split_block(block),
        parsed_extensions=_parsed_extensions(ffi, lib, client_hello),
        supported_groups=_supported_groups(ffi, lib, client_hello),
        server_name=_server_name(ffi, lib, client_hello),
        legacy_record_version=record_version,
    )


def _parse(ffi: Any, lib: Any, message: bytes) -> Any:
    client_hello = lib.s2n_client_hello_parse_message(ffi.from_buffer(message), len(message))
    if client_hello == ffi.NULL:
        raise _fail(ffi, lib, "s2n_client_hello_parse_message")
    return client_hello


def parse_client_hello(message: bytes) -> bytes:
    """Have s2n parse a ClientHello handshake message (with its 4-byte header).

    Returns the message body as s2n holds it (s2n erases the 32-byte random); raises a typed ``S2NError``
    for anything s2n rejects.
    """
    ffi, lib = native()
    holder = ffi.new("struct s2n_client_hello **", _parse(ffi, lib, message))
    try:
        return _sized_copy(ffi, lib, holder[0], "s2n_client_hello_get_raw_message")
    finally:
        lib.s2n_client_hello_free(holder)


def parse_client_hello_fields(message: bytes) -> ParsedClientHello:
    """Have s2n parse a ClientHello handshake message (4-byte header included); every getter's answer.

    Raises a typed ``S2NError`` (``.name`` is s2n's error name, e.g. ``S2N_ERR_BAD_MESSAGE``)
    for anything ``s2n_client_hello_parse_message`` rejects.

    >>> parse_client_hello_fields(message).cipher_suites.hex()  # doctest: +SKIP
    '130113021303'
    """
    ffi, lib = native()
    holder = ffi.new("struct s2n_client_hello **", _parse(ffi, lib, message))
    try:
        return _read_fields(ffi, lib, holder[0])
    finally:
        lib.s2n_client_hello_free(holder)
