"""How a client handles the extensions of a server's messages, as data: one descriptor per type and message.

s2n-tls's client reads them as its server reads a ClientHello's
(``engine.handshake.client_hello_extensions``): per message the list of
tls/extensions/s2n_extension_type_lists.c (ServerHello: supported_versions, key_share,
pre_shared_key; HelloRetryRequest: supported_versions, cookie, key_share;
EncryptedExtensions: server_name, max_fragment_length, ALPN, quic_transport_parameters,
early_data; the leaf's Certificate entry: status_request, signed_certificate_timestamp),
each processed by ``s2n_extension_recv`` (tls/extensions/s2n_extension_type.c:141-188):
a response (``is_response``) to a request the ClientHello did not carry is refused
(``S2N_ERR_UNSUPPORTED_EXTENSION``), otherwise the receive function reads the body, with
its own leniency (bytes after what it reads are ignored). Every type not in the
message's list is ignored (tls/extensions/s2n_extension_list.c:105-116: "Incorrect
implementations exist in the wild").

Each ``ResponseDescriptor`` carries the ``s2n`` receive function (under
``Compat.lenient_server_extensions``) and the ``rfc`` one (the typed codec). In the RFC
reading a type the ClientHello did not carry is ``unsupported_extension`` (RFC 8446 4.2;
the cookie in a HelloRetryRequest excepted) and a type RFC 8446's table does not allow
in the message is ``illegal_parameter``.

Which list a ServerHello is read with is s2n's choice too (``server_hello_list``,
tls/s2n_server_extensions.c:55-79): supported_versions is processed first, and without it
(on a first ServerHello) the version is still unknown and s2n reads the rest with its TLS
1.2 list (``tls12_server_hello_extensions``), not the TLS 1.3 one, before it decides the
version from legacy_version (tls/s2n_server_hello.c:164 before :177-221).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from engine.errors import (
    DecodeError,
    HandshakeFailureError,
    IllegalParameterError,
    MissingExtensionError,
    UnsupportedExtensionError,
)
from engine.wire.extensions import (
    Cookie,
    Extension,
    ExtensionType,
    KeyShareHelloRetryRequest,
    KeyShareServerHello,
    ProtocolNameList,
    SupportedVersionsServer,
)
from engine.wire.reader import Reader

__all__ = [
    "SERVER_EXTENSIONS",
    "ResponseDescriptor",
    "ServerExtensions",
    "ServerMessage",
    "read_server_extensions",
    "server_hello_list",
]

_TLS13 = 0x0304
_RECOGNIZED = frozenset(int(member) for member in ExtensionType)


class ServerMessage(Enum):
    """The server messages whose extensions a client reads."""

    SERVER_HELLO = "ServerHello"
    # A first ServerHello without supported_versions, as s2n reads it (S2N_EXTENSION_LIST_SERVER_HELLO_DEFAULT).
    SERVER_HELLO_TLS12 = "ServerHello without TLS 1.3"
    HELLO_RETRY_REQUEST = "HelloRetryRequest"
    ENCRYPTED_EXTENSIONS = "EncryptedExtensions"
    CERTIFICATE = "Certificate"  # the leaf's entry (s2n processes no other's)


@dataclass
class ServerExtensions:
    """What one server message's extensions said (None: absent, or ignored)."""

    selected_version: int | None = None
    server_share: tuple[int, bytes] | None = None
    selected_group: int | None = None
    cookie: bytes | None = None
    server_name_acknowledged: bool = False
    alpn: bytes | None = None


Receiver = Callable[[bytes, ServerExtensions], None]
MissingCheck = Callable[[], None]


@dataclass(frozen=True, slots=True)
class ResponseDescriptor:
    """One extension of one server message: s2n's ``s2n_extension_type`` and the RFC's reading beside it."""

    extension_type: int
    message: ServerMessage
    source: str
    s2n: Receiver | None
    rfc: Receiver | None
    is_response: bool = True
    if_missing: MissingCheck | None = None


def _s2n_supported_versions(body: bytes, read: ServerExtensions) -> None:
    """tls/extensions/s2n_server_supported_versions.c:60-101: two bytes, TLS 1.3; anything after is not read."""
    reader = Reader(body)
    version = reader.uint(2)
    if version != _TLS13:
        raise IllegalParameterError("the server selected a version other than TLS 1.3")  # S2N_ERR_BAD_MESSAGE
    read.selected_version = version


def _rfc_supported_versions(body: bytes, read: ServerExtensions) -> None:
    read.selected_version = SupportedVersionsServer.decode(body).selected_version


def _s2n_key_share(body: bytes, read: ServerExtensions) -> None:
    """tls/extensions/s2n_server_key_share.c:274-382: group, then the share's length and bytes; no more is read."""
    reader = Reader(body)
    group = reader.uint(2)
    read.server_share = group, bytes(reader.vector(2))


def _rfc_key_share(body: bytes, read: ServerExtensions) -> None:
    entry = KeyShareServerHello.decode(body).server_share
    read.server_share = entry.group, entry.key_exchange


def _no_psk(body: bytes, read: ServerExtensions) -> None:
    """tls/extensions/s2n_server_psk.c: the chosen identity must index a PSK the client offered; it offers none."""
    raise IllegalParameterError("pre_shared_key selects an identity, but no PSK was offered")


def _s2n_selected_group(body: bytes, read: ServerExtensions) -> None:
    read.selected_group = Reader(body).uint(2)  # s2n_server_key_share_recv: the group; nothing after it is read


def _rfc_selected_group(body: bytes, read: ServerExtensions) -> None:
    read.selected_group = KeyShareHelloRetryRequest.decode(body).selected_group


def _s2n_cookie(body: bytes, read: ServerExtensions) -> None:
    """tls/extensions/s2n_server_cookie.c:59-75: a length within the body, then the cookie; the rest is not read.

    An empty cookie fails: reading into the zero-sized buffer ``s2n_realloc`` leaves is ``S2N_ERR_NULL``.
    """
    reader = Reader(body)
    size = reader.uint(2)
    if size > reader.remaining:
        raise DecodeError("cookie longer than its extension")
    if size == 0:
        raise DecodeError("an empty cookie")
    read.cookie = bytes(reader.bytes(size))


def _rfc_cookie(body: bytes, read: ServerExtensions) -> None:
    read.cookie = Cookie.decode(body).cookie


def _retry_without_versions() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
    # = type=implementation
    ## The server's extensions MUST contain "supported_versions".
    raise MissingExtensionError("HelloRetryRequest without supported_versions")  # tls/s2n_server_hello.c:166-175


def _acknowledged(body: bytes, read: ServerExtensions) -> None:
    """tls/extensions/s2n_server_server_name.c: the body is not read."""
    read.server_name_acknowledged = True


def _rfc_server_name(body: bytes, read: ServerExtensions) -> None:
    # = https://www.rfc-editor.org/rfc/rfc6066#section-3
    # = type=implementation
    ## the "extension_data" field of this extension SHALL be empty.
    if body:
        raise DecodeError("server_name acknowledgement with a body")
    read.server_name_acknowledged = True


def _s2n_alpn(body: bytes, read: ServerExtensions) -> None:
    """tls/extensions/s2n_server_alpn.c:56-78: the first protocol, offered or not; a bad list length is ignored.

    s2n keeps the name in a C string: it ends at a NUL byte, and an empty one is no protocol.
    """
    reader = Reader(body)
    size = reader.uint(2)
    if size > reader.remaining or size < 3:
        return
    name = bytes(reader.vector(1)).split(b"\x00", 1)[0]
    read.alpn = name or None


def _rfc_alpn(body: bytes, read: ServerExtensions) -> None:
    names = ProtocolNameList.decode(body).protocol_name_list
    # = https://www.rfc-editor.org/rfc/rfc7301#section-3.1
    # = type=implementation
    ## The "extension_data" field of the ("application_layer_protocol_negotiation(16)") extension is structured the
    ## same as described above for the client "extension_data", except that the "ProtocolNameList" MUST contain
    ## exactly one "ProtocolName".
    if len(names) != 1:
        raise DecodeError("the server's ALPN list must hold exactly one protocol")
    read.alpn = names[0]


def _not_quic(body: bytes, read: ServerExtensions) -> None:
    # = https://www.rfc-editor.org/rfc/rfc9001#section-8.2
    # = type=implementation
    ## A fatal unsupported_extension alert MUST be sent by an implementation that supports this extension if the
    ## extension is received when the transport is not QUIC.
    raise UnsupportedExtensionError("quic_transport_parameters outside QUIC")


def _ignored(body: bytes, read: ServerExtensions) -> None:
    """Requested by the layout's ClientHello, but nothing the engine negotiates."""


def _s2n_renegotiation_info(body: bytes, read: ServerExtensions) -> None:
    """tls/extensions/s2n_server_renegotiation_info.c:133-153: a zero length byte and nothing after it."""
    reader = Reader(body)
    length = reader.uint(1)  # an empty body: S2N_ERR_STUFFER_OUT_OF_DATA
    if length or reader.remaining:
        # = https://www.rfc-editor.org/rfc/rfc5746#section-3.4
        # = type=implementation
        ## The client MUST then verify that the length of the "renegotiated_connection" field is zero, and if it is
        ## not, MUST abort the handshake (by sending a fatal handshake_failure alert).
        raise HandshakeFailureError("renegotiation_info is not empty")  # S2N_ERR_NON_EMPTY_RENEGOTIATION_INFO


def _s2n_extended_master_secret(body: bytes, read: ServerExtensions) -> None:
    """tls/extensions/s2n_server_ems.c:45-53: the extension must be empty (S2N_ERR_UNSUPPORTED_EXTENSION)."""
    if body:
        raise UnsupportedExtensionError("extended_master_secret with a body")


_EXT = "tls/extensions/"
_SH, _HRR = ServerMessage.SERVER_HELLO, ServerMessage.HELLO_RETRY_REQUEST
_SH12 = ServerMessage.SERVER_HELLO_TLS12
_EE, _CERT = ServerMessage.ENCRYPTED_EXTENSIONS, ServerMessage.CERTIFICATE

SERVER_EXTENSIONS: tuple[ResponseDescriptor, ...] = (
    # tls13_server_hello_extensions (supported_versions first: s2n_server_extensions.c, s2n_server_extensions_recv)
    ResponseDescriptor(ExtensionType.SUPPORTED_VERSIONS, _SH, _EXT + "s2n_server_supported_versions.c",
                       _s2n_supported_versions, _rfc_supported_versions),
    ResponseDescriptor(ExtensionType.KEY_SHARE, _SH, _EXT + "s2n_server_key_share.c:274-382",
                       _s2n_key_share, _rfc_key_share),
    ResponseDescriptor(ExtensionType.PRE_SHARED_KEY, _SH, _EXT + "s2n_server_psk.c", _no_psk, _no_psk),
    # hello_retry_request_extensions
    ResponseDescriptor(ExtensionType.SUPPORTED_VERSIONS, _HRR, _EXT + "s2n_server_supported_versions.c",
                       _s2n_supported_versions, _rfc_supported_versions, if_missing=_retry_without_versions),
    ResponseDescriptor(ExtensionType.COOKIE, _HRR, _EXT + "s2n_server_cookie.c", _s2n_cookie, _rfc_cookie,
                       is_response=False),
    ResponseDescriptor(ExtensionType.KEY_SHARE, _HRR, _EXT + "s2n_server_key_share.c:356-382",
                       _s2n_selected_group, _rfc_selected_group),
    # tls12_server_hello_extensions (s2n_extension_type_lists.c:87-99), s2n's reading only (the RFC
    # one never picks this list). supported_versions, its first entry, is absent whenever s2n picks it.
    # Unrequested responses are refused; the receive functions of status_request, the SCT list,
    # max_fragment_length, session_ticket and NPN are not modelled: the engine's ClientHellos never
    # request them (configured only, engine.policies._CONFIGURED_ONLY).
    ResponseDescriptor(ExtensionType.SERVER_NAME, _SH12, _EXT + "s2n_server_server_name.c:45-51", _acknowledged,
                       None),
    ResponseDescriptor(ExtensionType.EC_POINT_FORMATS, _SH12, _EXT + "s2n_ec_point_format.c:38-45", _ignored, None),
    ResponseDescriptor(ExtensionType.RENEGOTIATION_INFO, _SH12, _EXT + "s2n_server_renegotiation_info.c",
                       _s2n_renegotiation_info, None, is_response=False),  # answers the SCSV (:48-61)
    ResponseDescriptor(ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION, _SH12, _EXT + "s2n_server_alpn.c",
                       _s2n_alpn, None),
    ResponseDescriptor(ExtensionType.STATUS_REQUEST, _SH12, _EXT + "s2n_cert_status_response.c", _ignored, None),
    ResponseDescriptor(ExtensionType.SIGNED_CERTIFICATE_TIMESTAMP, _SH12, _EXT + "s2n_server_sct_list.c",
                       _ignored, None),
    ResponseDescriptor(ExtensionType.MAX_FRAGMENT_LENGTH, _SH12, _EXT + "s2n_server_max_fragment_length.c",
                       _ignored, None),
    ResponseDescriptor(ExtensionType.SESSION_TICKET, _SH12, _EXT + "s2n_server_session_ticket.c", _ignored, None),
    ResponseDescriptor(ExtensionType.EXTENDED_MASTER_SECRET, _SH12, _EXT + "s2n_server_ems.c",
                       _s2n_extended_master_secret, None),
    ResponseDescriptor(ExtensionType.NPN, _SH12, _EXT + "s2n_npn.c", _ignored, None),
    # encrypted_extensions
    ResponseDescriptor(ExtensionType.SERVER_NAME, _EE, _EXT + "s2n_server_server_name.c", _acknowledged,
                       _rfc_server_name),
    ResponseDescriptor(ExtensionType.MAX_FRAGMENT_LENGTH, _EE, _EXT + "s2n_server_max_fragment_length.c",
                       _ignored, _ignored),
    ResponseDescriptor(ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION, _EE, _EXT + "s2n_server_alpn.c",
                       _s2n_alpn, _rfc_alpn),
    ResponseDescriptor(ExtensionType.QUIC_TRANSPORT_PARAMETERS, _EE, _EXT + "s2n_quic_transport_params.c",
                       _not_quic, _not_quic, is_response=False),
    ResponseDescriptor(ExtensionType.EARLY_DATA, _EE, _EXT + "s2n_server_early_data_indication.c", _ignored, _ignored),
    # The RFC allows these in EncryptedExtensions too; s2n does not list them (ignored).
    ResponseDescriptor(ExtensionType.SUPPORTED_GROUPS, _EE, "not in s2n's list", None, _ignored, is_response=False),
    ResponseDescriptor(ExtensionType.RECORD_SIZE_LIMIT, _EE, "unknown to s2n", None, _ignored),
    # certificate_extensions (the leaf's entry only: tls/s2n_x509_validator.c:903-923,961-963)
    ResponseDescriptor(ExtensionType.STATUS_REQUEST, _CERT, _EXT + "s2n_cert_status.c", _ignored, _ignored),
    ResponseDescriptor(ExtensionType.SIGNED_CERTIFICATE_TIMESTAMP, _CERT, _EXT + "s2n_server_sct_list.c",
                       _ignored, _ignored),
)  # fmt: skip


# Each message's descriptors, in order: the table is read for every server message.
_DESCRIPTORS = {
    message: tuple(descriptor for descriptor in SERVER_EXTENSIONS if descriptor.message is message)
    for message in ServerMessage
}


def server_hello_list(extensions: tuple[Extension, ...], *, retried: bool) -> ServerMessage:
    """The list s2n's client reads a (non-retry) ServerHello's extensions with (tls/s2n_server_extensions.c:60-79).

    supported_versions is processed first (:66) and sets ``server_protocol_version``; then the
    TLS 1.3 list if that is TLS 1.3 (:75-76), else the TLS 1.2 one (:77-78). Present, the
    extension selects TLS 1.3 or is refused as it is read (the first descriptor of the TLS 1.3
    list). Absent, the version is still unknown, unless a HelloRetryRequest set it
    (tls/extensions/s2n_server_supported_versions.c:88, never reset): in a retried handshake
    the TLS 1.3 list, whatever ``Compat.keep_hello_retry_version`` then makes of the version.
    """
    if retried or ExtensionType.SUPPORTED_VERSIONS in [extension.extension_type for extension in extensions]:
        return ServerMessage.SERVER_HELLO
    return ServerMessage.SERVER_HELLO_TLS12


def read_server_extensions(
    message: ServerMessage, extensions: tuple[Extension, ...], requested: frozenset[int], *, lenient: bool
) -> ServerExtensions:
    """Run the descriptors of ``message`` over its ``extensions``, in s2n's order.

    ``requested`` are the types the (latest) ClientHello carried. ``lenient`` picks s2n's
    receive functions (``Compat.lenient_server_extensions``), else the RFC's; s2n ignores
    a type its list for the message lacks, the RFC reading refuses it.
    """
    descriptors = _DESCRIPTORS[message]
    bodies = {extension.extension_type: extension.data for extension in reversed(extensions)}
    read = ServerExtensions()
    if not lenient:
        _check_rfc_allowed(message, extensions, requested, {d.extension_type for d in descriptors})
    for descriptor in descriptors:
        body = bodies.get(descriptor.extension_type)
        receive = descriptor.s2n if lenient else descriptor.rfc
        if body is None and descriptor.if_missing is not None:
            descriptor.if_missing()
        if body is None or receive is None:
            continue
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2
        # = type=implementation
        ## Implementations MUST NOT send extension responses if the remote endpoint did not send the corresponding
        ## extension requests, with the exception of the "cookie" extension in the HelloRetryRequest.  Upon
        ## receiving such an extension, an endpoint MUST abort the handshake with an "unsupported_extension" alert.
        if descriptor.is_response and descriptor.extension_type not in requested:
            raise UnsupportedExtensionError(f"{message.value} answers a {descriptor.extension_type} not requested")
        receive(body, read)
    return read


def _check_rfc_allowed(
    message: ServerMessage, extensions: tuple[Extension, ...], requested: frozenset[int], allowed: set[int]
) -> None:
    for extension in extensions:
        kind = extension.extension_type
        if kind in allowed:
            continue
        if kind not in requested:
            raise UnsupportedExtensionError(f"{message.value} carries extension {kind}, never requested")
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2
        # = type=implementation
        ## If an implementation receives an extension which it recognizes and which is not specified for the message
        ## in which it appears, it MUST abort the handshake with an "illegal_parameter" alert.
        if kind in _RECOGNIZED:
            raise IllegalParameterError(f"extension {kind} does not belong in {message.value}")
