"""How a server handles each ClientHello extension, as data: one descriptor per extension type.

s2n-tls describes every extension with an ``s2n_extension_type`` (tls/extensions/
s2n_extension_type.h): IANA value, ``is_response``, ``minimum_version``, ``recv`` and
``if_missing``; a ClientHello's extensions are processed in the order of
``client_hello_extensions`` (tls/extensions/s2n_extension_type_lists.c:55-85) by
``s2n_extension_list_process`` (tls/extensions/s2n_extension_list.c:92-119), which for
each descriptor calls ``s2n_extension_recv`` or ``s2n_extension_is_missing``
(tls/extensions/s2n_extension_type.c:141-212):

- a response (``is_response``) to a request this side never sent fails with
  ``S2N_ERR_UNSUPPORTED_EXTENSION``; a missing one is fine;
- below ``minimum_version`` an extension is neither read nor missed;
- otherwise ``recv`` reads the body (and may ignore it, or fail), after which the
  extension counts as received (``extension_requests_received``), or ``if_missing`` runs.

Extension types s2n does not list there are ignored, whatever their body, and so is
every type it does not know at all (the parser skips them before its duplicate check).

Each ``ExtensionDescriptor`` here carries two handlings: ``s2n`` (the receive function
of the s2n file it cites, under ``Compat.lenient_client_hello``) and ``rfc`` (the typed
codec of ``engine.wire.extensions`` and what RFC 8446 and the extension's RFC require).
``receive_client_hello_extensions`` runs the table in s2n's order into a
``ReceivedExtensions``; ``engine.handshake.client_offer.read_offer`` turns that into the
offer the server negotiates over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.crypto.key_exchange import usable_key_share
from engine.errors import (
    DecodeError,
    HandshakeFailureError,
    IllegalParameterError,
    MissingExtensionError,
    NoApplicationProtocolError,
    ProtocolVersionError,
    UnsupportedExtensionError,
)
from engine.wire.extensions import (
    Cookie,
    Empty,
    ExtensionType,
    KeyShareClientHello,
    NameType,
    OfferedPsks,
    ProtocolNameList,
    PskKeyExchangeMode,
    PskKeyExchangeModes,
    RenegotiationInfo,
    ServerNameList,
    SignatureSchemeList,
    SupportedGroups,
    SupportedVersionsClient,
)
from engine.wire.handshake import S2N_PARSED_EXTENSIONS, ClientHello
from engine.wire.s2n_bodies import (
    s2n_key_share_entries,
    s2n_psk_dhe_ke,
    s2n_select_protocol,
    s2n_server_name,
    s2n_signature_schemes,
    s2n_supported_groups,
    s2n_supported_versions,
)

__all__ = [
    "CLIENT_HELLO_EXTENSIONS",
    "TLS13",
    "ExtensionDescriptor",
    "Handling",
    "OfferContext",
    "ReceivedExtensions",
    "receive_client_hello_extensions",
]

TLS13 = 0x0304
_SECP256R1 = 0x0017


@dataclass(frozen=True)
class OfferContext:
    """What the server brings to reading a ClientHello's extensions.

    ``minimum_version`` is the policy's (wire value); ``default_group`` the curve s2n
    falls back to before supported_groups is read (P-256 if the policy has it, else the
    policy's first: tls/s2n_client_hello.c, ``s2n_process_client_hello``); ``alpn`` the
    server's protocols in preference order; ``retry`` whether this is the ClientHello
    after a HelloRetryRequest; ``cookie`` the cookie that HelloRetryRequest carried.
    """

    minimum_version: int = 0x0301
    default_group: int = _SECP256R1
    alpn: tuple[bytes, ...] = ()
    retry: bool = False
    cookie: bytes = b""

    @classmethod
    def for_policy(
        cls, minimum_version: int, groups: tuple[int, ...], alpn: tuple[bytes, ...], *, retry: bool, cookie: bytes
    ) -> OfferContext:
        """The context of a server with this policy (its minimum version and ECC groups) and ALPN list."""
        default = _SECP256R1 if _SECP256R1 in groups or not groups else groups[0]
        return cls(minimum_version, default, alpn, retry, cookie if retry else b"")


@dataclass
class ReceivedExtensions:
    """What the extensions of one ClientHello told the server (filled in descriptor order).

    ``groups`` is None when supported_groups is absent or (s2n) ignored as malformed;
    ``shares`` holds, per group, the first share (s2n: the first usable one);
    ``received`` the types whose receive function ran (s2n's ``extension_requests_received``).
    """

    wire_order: tuple[int, ...]
    tls13: bool = True
    groups: tuple[int, ...] | None = None
    shares: dict[int, bytes] = field(default_factory=dict)
    key_share_present: bool = False
    key_share_entries: int = 0
    signature_schemes: tuple[int, ...] | None = None
    server_name: bytes | None = None
    alpn: tuple[bytes, ...] = ()
    psk_dhe_ke: bool = False
    early_data: bool = False
    received: set[int] = field(default_factory=set)


Receiver = Callable[[bytes, ReceivedExtensions, OfferContext], None]
MissingCheck = Callable[[ReceivedExtensions, OfferContext], None]


@dataclass(frozen=True, slots=True)
class Handling:
    """One way of handling an extension: how its body is read (None: not read) and what its absence means."""

    receive: Receiver | None = None
    if_missing: MissingCheck | None = None


IGNORED = Handling()


@dataclass(frozen=True, slots=True)
class ExtensionDescriptor:
    """One ClientHello extension: s2n's ``s2n_extension_type`` fields, and the RFC's handling beside s2n's.

    ``source`` cites the s2n file (and lines) the ``s2n`` handling follows.
    """

    extension_type: int
    source: str
    s2n: Handling
    rfc: Handling
    minimum_version: int = 0
    is_response: bool = False


# --- receive functions, s2n's (lenient) and the RFC's (typed codecs) --------------------------------------------


def _s2n_supported_versions(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    # The server has already answered what this says (engine.handshake.server); read again for completeness.
    if s2n_supported_versions(body, context.minimum_version) != TLS13:
        raise ProtocolVersionError("supported_versions is malformed or does not select TLS 1.3")


def _rfc_supported_versions(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.1
    # = type=implementation
    ## If this extension is present in the ClientHello, servers MUST NOT use the ClientHello.legacy_version
    ## value for version negotiation and MUST use only the "supported_versions" extension to determine client
    ## preferences.
    if TLS13 not in SupportedVersionsClient.decode(body).versions:
        raise ProtocolVersionError("the client does not offer TLS 1.3")


def _rfc_no_supported_versions(received: ReceivedExtensions, context: OfferContext) -> None:
    raise ProtocolVersionError("the client does not offer TLS 1.3")


def _s2n_supported_groups(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    received.groups = s2n_supported_groups(body)


def _rfc_supported_groups(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    received.groups = SupportedGroups.decode(body).named_group_list


def _s2n_key_share(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    """s2n keeps, per group, the first share it can use: of the right size, on the curve."""
    entries = s2n_key_share_entries(body)
    for group, key_exchange in entries:
        usable = None if group in received.shares else usable_key_share(group, key_exchange)
        if usable is not None:
            received.shares[group] = usable
    received.key_share_present, received.key_share_entries = True, len(entries)


def _rfc_key_share(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    entries = KeyShareClientHello.decode(body).client_shares
    for entry in entries:
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.8
        # = type=implementation
        ## Clients MUST NOT offer multiple KeyShareEntry values for the same group.
        if entry.group in received.shares:
            raise IllegalParameterError("two key shares for one group")
        received.shares[entry.group] = entry.key_exchange
    received.key_share_present, received.key_share_entries = True, len(entries)


def _rfc_required(name: str) -> MissingCheck:
    def missing(received: ReceivedExtensions, context: OfferContext) -> None:
        # = https://www.rfc-editor.org/rfc/rfc8446#section-9.2
        # = type=implementation
        ## If a server is authenticating via a certificate and the client has not sent a "signature_algorithms"
        ## extension, then the server MUST abort the handshake with a "missing_extension" alert
        raise MissingExtensionError(f"ClientHello lacks {name}")

    return missing


def _s2n_signature_algorithms(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    schemes = s2n_signature_schemes(body)
    if schemes is not None:
        received.signature_schemes = schemes


def _rfc_signature_algorithms(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    received.signature_schemes = SignatureSchemeList.decode(body).supported_signature_algorithms


def _rfc_signature_algorithms_cert(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    SignatureSchemeList.decode(body)  # read for its form only: the engine checks no certificate signature here


def _s2n_server_name(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    received.server_name = s2n_server_name(body)


def _rfc_server_name(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    names = ServerNameList.decode(body).server_name_list
    # = https://www.rfc-editor.org/rfc/rfc6066#section-3
    # = type=implementation
    ## The ServerNameList MUST NOT contain more than one name of the same name_type.
    if len({name.name_type for name in names}) != len(names):
        raise IllegalParameterError("two server names of one type")
    host_name = next((name.name for name in names if name.name_type == NameType.HOST_NAME), None)
    # = https://www.rfc-editor.org/rfc/rfc6066#section-3
    # = type=implementation
    ## The hostname is represented as a byte string using ASCII encoding without a trailing dot.
    if host_name is not None and not host_name.isascii():
        raise DecodeError("server name is not ASCII")
    received.server_name = host_name


def _s2n_alpn(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    chosen = s2n_select_protocol(context.alpn, body)
    received.alpn = () if chosen is None else (chosen,)


def _rfc_alpn(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    received.alpn = ProtocolNameList.decode(body).protocol_name_list
    # = https://www.rfc-editor.org/rfc/rfc7301#section-3.2
    # = type=implementation
    ## In the event that the server supports no protocols that the client advertises, then the server SHALL
    ## respond with a fatal "no_application_protocol" alert.
    if context.alpn and not set(context.alpn) & set(received.alpn):
        raise NoApplicationProtocolError("no ALPN protocol in common")


def _s2n_renegotiation_info(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    """tls/extensions/s2n_client_renegotiation_info.c:82-102: exactly one zero byte (an initial handshake)."""
    if not body:
        raise DecodeError("renegotiation_info without its length")
    if body != b"\x00":
        raise HandshakeFailureError("renegotiation_info is not empty")  # S2N_ERR_NON_EMPTY_RENEGOTIATION_INFO


def _rfc_renegotiation_info(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    # = https://www.rfc-editor.org/rfc/rfc5746#section-3.6
    # = type=implementation
    ## The server MUST then verify that the length of the "renegotiated_connection" field is zero, and if it is
    ## not, MUST abort the handshake.
    if RenegotiationInfo.decode(body).renegotiated_connection:
        raise HandshakeFailureError("renegotiation_info is not empty")


def _cookie(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    """The cookie must echo the one sent (s2n's server sends none outside its unit tests)."""
    if Cookie.decode(body).cookie != context.cookie:
        raise IllegalParameterError("the second ClientHello does not echo the cookie")


def _no_cookie(received: ReceivedExtensions, context: OfferContext) -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.2
    # = type=implementation
    ## When sending the new ClientHello, the client MUST copy the contents of the extension received in the
    ## HelloRetryRequest into a "cookie" extension in the new ClientHello.
    raise MissingExtensionError("the second ClientHello does not echo the cookie")  # s2n_extension_error_if_missing


def _unsupported(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    # = https://www.rfc-editor.org/rfc/rfc9001#section-8.2
    # = type=implementation
    ## A fatal unsupported_extension alert MUST be sent by an implementation that supports this extension if the
    ## extension is received when the transport is not QUIC.
    raise UnsupportedExtensionError("quic_transport_parameters outside QUIC")


def _s2n_psk_key_exchange_modes(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    received.psk_dhe_ke = s2n_psk_dhe_ke(body)


def _rfc_psk_key_exchange_modes(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    received.psk_dhe_ke = PskKeyExchangeMode.PSK_DHE_KE in PskKeyExchangeModes.decode(body).ke_modes


def _s2n_early_data(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    """tls/extensions/s2n_client_early_data_indication.c: any body; never in the second ClientHello."""
    if context.retry:
        raise UnsupportedExtensionError("early_data in the second ClientHello")
    received.early_data = True


def _rfc_early_data(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    Empty.decode(body)
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.10
    # = type=implementation
    ## A client MUST NOT include the "early_data" extension in its followup ClientHello.
    if context.retry:
        raise IllegalParameterError("early_data in the second ClientHello")


def _s2n_extended_master_secret(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    """tls/extensions/s2n_client_ems.c: the body must be empty (``S2N_ERR_UNSUPPORTED_EXTENSION``)."""
    if body:
        raise UnsupportedExtensionError("extended_master_secret with a body")


def _rfc_empty(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    Empty.decode(body)


def _s2n_pre_shared_key(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    """tls/extensions/s2n_client_psk.c:355-421, for a server without PSKs or session tickets.

    It must be the last extension of the ones s2n parses (others may follow), and come
    with psk_key_exchange_modes; with psk_dhe_ke, with a key_share too. Then no identity
    matches (the body is read only to look for one: it may be anything) and the
    handshake is a full one.
    """
    if received.wire_order[-1] != ExtensionType.PRE_SHARED_KEY:
        raise UnsupportedExtensionError("pre_shared_key is not the last extension")
    if ExtensionType.PSK_KEY_EXCHANGE_MODES not in received.received:
        raise MissingExtensionError("pre_shared_key without psk_key_exchange_modes")
    if received.psk_dhe_ke and ExtensionType.KEY_SHARE not in received.received:
        raise MissingExtensionError("pre_shared_key with psk_dhe_ke but no key_share")


def _rfc_pre_shared_key(body: bytes, received: ReceivedExtensions, context: OfferContext) -> None:
    OfferedPsks.decode(body)
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
    # = type=implementation
    ## Servers MUST check that it is the last extension and otherwise fail the handshake with an
    ## "illegal_parameter" alert.
    if received.wire_order[-1] != ExtensionType.PRE_SHARED_KEY:
        raise IllegalParameterError("pre_shared_key is not the last extension")
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.9
    # = type=implementation
    ## If clients offer "pre_shared_key" without a "psk_key_exchange_modes" extension, servers MUST abort the
    ## handshake.
    if ExtensionType.PSK_KEY_EXCHANGE_MODES not in received.received:
        raise MissingExtensionError("pre_shared_key without psk_key_exchange_modes")


def _s2n_no_pre_shared_key(received: ReceivedExtensions, context: OfferContext) -> None:
    """``s2n_client_psk_is_missing``: early data was asked for without a PSK (``S2N_ERR_UNSUPPORTED_EXTENSION``)."""
    if received.early_data:
        raise UnsupportedExtensionError("early_data without pre_shared_key")


_EXT = "tls/extensions/"

# s2n's processing order (tls/extensions/s2n_extension_type_lists.c:55-85), then the types s2n parses but never
# reads in a ClientHello, then those it does not know (ignored; listed for what the RFC handling does with them).
CLIENT_HELLO_EXTENSIONS: tuple[ExtensionDescriptor, ...] = (
    ExtensionDescriptor(ExtensionType.SUPPORTED_VERSIONS, _EXT + "s2n_client_supported_versions.c:139-184",
                        Handling(_s2n_supported_versions),
                        Handling(_rfc_supported_versions, _rfc_no_supported_versions)),
    ExtensionDescriptor(ExtensionType.SUPPORTED_GROUPS, _EXT + "s2n_client_supported_groups.c:83-100,184-204",
                        Handling(_s2n_supported_groups),
                        Handling(_rfc_supported_groups, _rfc_required("supported_groups"))),
    ExtensionDescriptor(ExtensionType.KEY_SHARE, _EXT + "s2n_client_key_share.c:248-310,450-500",
                        Handling(_s2n_key_share), Handling(_rfc_key_share, _rfc_required("key_share")),
                        minimum_version=TLS13),
    ExtensionDescriptor(ExtensionType.SIGNATURE_ALGORITHMS, "tls/s2n_signature_algorithms.c:346-378",
                        Handling(_s2n_signature_algorithms),
                        Handling(_rfc_signature_algorithms, _rfc_required("signature_algorithms"))),
    ExtensionDescriptor(ExtensionType.SERVER_NAME, _EXT + "s2n_client_server_name.c:49-88",
                        Handling(_s2n_server_name), Handling(_rfc_server_name)),
    ExtensionDescriptor(ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION,
                        _EXT + "s2n_client_alpn.c:59-87, tls/s2n_protocol_preferences.c:20-57,137-160",
                        Handling(_s2n_alpn), Handling(_rfc_alpn)),
    ExtensionDescriptor(ExtensionType.NPN, _EXT + "s2n_npn.c:36-46 (TLS 1.2 only)", IGNORED, IGNORED),
    ExtensionDescriptor(ExtensionType.STATUS_REQUEST, _EXT + "s2n_client_cert_status_request.c (no OCSP staple)",
                        IGNORED, IGNORED),
    ExtensionDescriptor(ExtensionType.SIGNED_CERTIFICATE_TIMESTAMP, _EXT + "s2n_client_sct_list.c (body not read)",
                        IGNORED, IGNORED),
    ExtensionDescriptor(ExtensionType.MAX_FRAGMENT_LENGTH, _EXT + "s2n_client_max_frag_len.c (accept_mfl off)",
                        IGNORED, IGNORED),
    ExtensionDescriptor(ExtensionType.SESSION_TICKET, _EXT + "s2n_client_session_ticket.c (TLS 1.2 only)",
                        IGNORED, IGNORED),
    ExtensionDescriptor(ExtensionType.EC_POINT_FORMATS, _EXT + "s2n_ec_point_format.c:64-80 (body not read)",
                        IGNORED, IGNORED),
    ExtensionDescriptor(0xFE01, _EXT + "s2n_client_pq_kem.c (no PQ on OpenSSL 3.0)", IGNORED, IGNORED),
    ExtensionDescriptor(ExtensionType.RENEGOTIATION_INFO, _EXT + "s2n_client_renegotiation_info.c:82-102,143-152",
                        Handling(_s2n_renegotiation_info), Handling(_rfc_renegotiation_info)),
    ExtensionDescriptor(ExtensionType.COOKIE, _EXT + "s2n_client_cookie.c:58-73", Handling(_cookie, _no_cookie),
                        Handling(_cookie, _no_cookie), minimum_version=TLS13, is_response=True),
    ExtensionDescriptor(ExtensionType.QUIC_TRANSPORT_PARAMETERS, _EXT + "s2n_quic_transport_params.c:55-67 (QUIC off)",
                        Handling(_unsupported), Handling(_unsupported), minimum_version=TLS13),
    ExtensionDescriptor(ExtensionType.PSK_KEY_EXCHANGE_MODES, _EXT + "s2n_psk_key_exchange_modes.c:68-91",
                        Handling(_s2n_psk_key_exchange_modes), Handling(_rfc_psk_key_exchange_modes),
                        minimum_version=TLS13),
    ExtensionDescriptor(ExtensionType.EARLY_DATA, _EXT + "s2n_client_early_data_indication.c:161-178",
                        Handling(_s2n_early_data), Handling(_rfc_early_data)),
    ExtensionDescriptor(ExtensionType.EXTENDED_MASTER_SECRET, _EXT + "s2n_client_ems.c:43-52",
                        Handling(_s2n_extended_master_secret), Handling(_rfc_empty)),
    ExtensionDescriptor(ExtensionType.PRE_SHARED_KEY, _EXT + "s2n_client_psk.c:49-64,355-421 (must be last)",
                        Handling(_s2n_pre_shared_key, _s2n_no_pre_shared_key), Handling(_rfc_pre_shared_key),
                        minimum_version=TLS13),
    # Parsed by s2n (a repeat is refused) but not processed in a ClientHello.
    ExtensionDescriptor(ExtensionType.CERTIFICATE_AUTHORITIES, _EXT + "s2n_cert_authorities.c (requests only)",
                        IGNORED, IGNORED),
    # Unknown to s2n (s2n_extension_type.h, s2n_supported_extensions): skipped, repeats allowed.
    ExtensionDescriptor(ExtensionType.SIGNATURE_ALGORITHMS_CERT, "unknown to s2n", IGNORED,
                        Handling(_rfc_signature_algorithms_cert)),
    ExtensionDescriptor(ExtensionType.PADDING, "unknown to s2n", IGNORED, IGNORED),
    ExtensionDescriptor(ExtensionType.RECORD_SIZE_LIMIT, "unknown to s2n", IGNORED, IGNORED),
)  # fmt: skip


_Reading = tuple[int, Receiver | None, MissingCheck | None, bool, bool]
"""A descriptor as ``receive_client_hello_extensions`` reads it under one of the two readings: the type, the
handling's receive and if_missing, ``is_response``, and whether it has a TLS 1.3 minimum."""


# {lenient: the table in s2n's order under the s2n (True) or RFC (False) reading}, flattened once: every
# ClientHello runs the whole table.
def _reading(descriptor: ExtensionDescriptor, *, lenient: bool) -> _Reading:
    handling = descriptor.s2n if lenient else descriptor.rfc
    tls13_only = descriptor.minimum_version >= TLS13
    return descriptor.extension_type, handling.receive, handling.if_missing, descriptor.is_response, tls13_only


_READINGS: dict[bool, tuple[_Reading, ...]] = {
    lenient: tuple(_reading(descriptor, lenient=lenient) for descriptor in CLIENT_HELLO_EXTENSIONS)
    for lenient in (False, True)
}


def receive_client_hello_extensions(
    hello: ClientHello, context: OfferContext, *, lenient: bool, tls13: bool = True
) -> ReceivedExtensions:
    """Run every descriptor over ``hello``'s extensions, in s2n's order (``s2n_extension_list_process``).

    ``lenient`` picks the ``s2n`` handlings (``Compat.lenient_client_hello``), else the
    ``rfc`` ones. ``tls13`` False is s2n's server before it knows a version (no
    supported_versions): descriptors with a TLS 1.3 minimum are skipped, present or not.
    The first failure raises its ``TLSError``.
    """
    # Duplicates were refused by the message parser (s2n: only the types it parses), so the first one is the one.
    bodies = {extension.extension_type: extension.data for extension in reversed(hello.extensions)}
    # Lists, not generators, built per ClientHello: a generator is resumed once per item.
    order = tuple([extension.extension_type for extension in hello.extensions])
    if lenient:  # s2n numbers only the types it parses (s2n_extension_list.c:137-153): "last" is among those
        order = tuple([kind for kind in order if kind in S2N_PARSED_EXTENSIONS])
    received = ReceivedExtensions(wire_order=order, tls13=tls13)
    cookie_sent = bool(context.cookie)
    for extension_type, receive, if_missing, is_response, tls13_only in _READINGS[lenient]:
        body = bodies.get(extension_type)
        if body is None and if_missing is None:
            continue  # most of the table: neither sent nor missed
        requested = cookie_sent or not is_response
        in_version = tls13 or not tls13_only
        if body is None:
            if requested and in_version and if_missing is not None:
                if_missing(received, context)
            continue
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2
        # = type=implementation
        ## Implementations MUST NOT send extension responses if the remote endpoint did not send the corresponding
        ## extension requests, with the exception of the "cookie" extension in the HelloRetryRequest.  Upon
        ## receiving such an extension, an endpoint MUST abort the handshake with an "unsupported_extension" alert.
        if not requested:
            raise UnsupportedExtensionError(f"extension {ExtensionType(extension_type).name} not requested")
        if not in_version:
            continue
        if receive is not None:
            receive(body, received, context)
        received.received.add(extension_type)
    return received
