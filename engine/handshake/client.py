"""The client side of the TLS 1.3 handshake, one small class per state, as s2n-tls runs it.

The ClientHello carries exactly what s2n's does under the policy (``engine.policies``):
suites with the renegotiation SCSV, extensions in s2n's order, one key share. Draws,
in s2n's order: random (32), legacy_session_id (32), then the key share. The client
writes what s2n's sequence for the handshake type has it write
(``engine.handshake.sequence``): in middlebox-compatibility mode its ChangeCipherSpec
right after a HelloRetryRequest, else after the server's Finished; then its Finished.
"""

from __future__ import annotations

import functools
from dataclasses import replace

from cryptography import x509

from engine.crypto.key_exchange import KeyShare, generate_key_share
from engine.crypto.key_schedule import KeySchedule
from engine.crypto.suites import TLS13_SUITES, CipherSuite
from engine.errors import (
    BadCertificateError,
    CertificateUnknownError,
    IllegalParameterError,
    MissingExtensionError,
    ProtocolVersionError,
    TLSError,
    UnexpectedMessageError,
)
from engine.handshake.certificates import (
    MAX_CHAIN_DEPTH,
    check_certificate_preferences,
    check_root_certificate,
    parse_chain,
    verify_chain,
    verify_signature,
)
from engine.handshake.client_offer import TLS13
from engine.handshake.context import HandshakeContext
from engine.handshake.host_check import VerifyHost, check_host, default_verify_host
from engine.handshake.server_extensions import (
    ServerExtensions,
    ServerMessage,
    read_server_extensions,
    server_hello_list,
)
from engine.handshake.state import Connected, State, expect
from engine.policies import OPENSSL_3, TLS12, ClientHelloOffer, client_hello_offer
from engine.policies import policy as load_policy
from engine.randomness import DrawKind
from engine.wire.codec import Struct
from engine.wire.extensions import (
    Cookie,
    EcPointFormats,
    Extension,
    ExtensionType,
    KeyShareClientHello,
    KeyShareEntry,
    ProtocolNameList,
    ServerNameList,
    SignatureSchemeList,
    SupportedGroups,
    SupportedVersionsClient,
)
from engine.wire.handshake import (
    HELLO_RETRY_REQUEST_RANDOM,
    Certificate,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    Finished,
    HandshakeMessage,
    HandshakeType,
    ServerHello,
    encode_handshake,
)
from engine.wire.s2n_server_messages import decode_server_message_as_s2n

__all__ = ["AwaitingStart", "ExpectServerHello", "start_client"]


class _Hello:
    """What the client offered, kept for checking the server's answers and for a retry."""

    def __init__(self, message: ClientHello, shares: dict[int, KeyShare], offer: ClientHelloOffer) -> None:
        self.message = message
        self.shares = shares
        self.offer = offer
        self.groups = offer.groups
        # What the server may answer (s2n's extension_requests_sent, reset for each ClientHello).
        self.requested = frozenset([extension.extension_type for extension in message.extensions])


# Where ``_hello_layout`` leaves room for the two extensions that change from one ClientHello to the next.
_KEY_SHARE_SLOT = "key_share"
_COOKIE_SLOT = "cookie"
_Slot = Extension | str


@functools.lru_cache(maxsize=128)  # public, deterministic inputs; the same for every handshake of a config
def _hello_layout(
    offer: ClientHelloOffer,
    server_name: str | None,
    fixed_bodies: tuple[tuple[int, bytes], ...],
    alpn: tuple[bytes, ...],
) -> tuple[_Slot, ...]:
    """The ClientHello's extensions in s2n's order, built once: a slot for the key shares and for a cookie."""
    bodies: dict[int, Struct] = {
        ExtensionType.SUPPORTED_VERSIONS: SupportedVersionsClient(offer.supported_versions),
        ExtensionType.SUPPORTED_GROUPS: SupportedGroups(offer.groups),
        ExtensionType.SIGNATURE_ALGORITHMS: SignatureSchemeList(offer.signature_schemes),
        ExtensionType.SERVER_NAME: ServerNameList.for_host((server_name or "").encode()),
        ExtensionType.EC_POINT_FORMATS: EcPointFormats((0,)),
    }
    fixed = dict(fixed_bodies)
    # s2n's list puts the cookie after ec_point_formats and before extended_master_secret;
    # a layout that orders COOKIE puts it there.
    cookie_before = ExtensionType.COOKIE if ExtensionType.COOKIE in offer.extensions else 23
    slots: list[_Slot] = []
    for extension_type in offer.extensions:
        if extension_type == cookie_before:
            slots.append(_COOKIE_SLOT)
        if extension_type in (ExtensionType.COOKIE, ExtensionType.PADDING):
            continue  # the cookie went in just above; padding is added last (_pad)
        body = bodies.get(extension_type)
        if extension_type == ExtensionType.KEY_SHARE:
            slots.append(_KEY_SHARE_SLOT)
        elif body is None:
            slots.append(Extension(extension_type, fixed.get(extension_type, b"")))
        else:
            slots.append(Extension.of(extension_type, body))
        if extension_type == ExtensionType.SERVER_NAME and alpn:
            slots.append(Extension.of(ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION, ProtocolNameList(alpn)))
    if cookie_before not in offer.extensions:
        slots.append(_COOKIE_SLOT)
    return tuple(slots)


def _extension_bodies(
    ctx: HandshakeContext, offer: ClientHelloOffer, shares: dict[int, KeyShare], cookie: Extension | None
) -> list[Extension]:
    layout = _hello_layout(offer, ctx.negotiated.server_name, ctx.config.layout.extension_bodies, ctx.config.alpn)
    extensions: list[Extension] = []
    for slot in layout:
        if slot is _KEY_SHARE_SLOT:
            entries = tuple(KeyShareEntry(group, share.public) for group, share in shares.items())
            extensions.append(Extension.of(ExtensionType.KEY_SHARE, KeyShareClientHello(entries)))
        elif slot is _COOKIE_SLOT:
            if cookie is not None:
                extensions.append(cookie)
        elif isinstance(slot, Extension):
            extensions.append(slot)
    return extensions


def _offer(ctx: HandshakeContext) -> ClientHelloOffer:
    """What s2n's ClientHello carries under the policy (its extension list depends on SNI), or the layout's."""
    if ctx.config.layout.client_hello is not None:
        return ctx.config.layout.client_hello
    has_name = ctx.negotiated.server_name is not None
    return client_hello_offer(load_policy(ctx.config.policy), OPENSSL_3, server_name=has_name)


def _pad(hello: ClientHello) -> ClientHello:
    """RFC 7685 padding as NSS and BoringSSL add it: a ClientHello of 256 to 511 bytes grows to 512."""
    length = len(encode_handshake(hello))
    if not 0xFF < length < 0x200:
        return hello
    padding = max(0x200 - length - 4, 1)
    return replace(hello, extensions=(*hello.extensions, Extension(ExtensionType.PADDING, bytes(padding))))


def _client_hello(
    ctx: HandshakeContext,
    offer: ClientHelloOffer,
    random: bytes,
    session_id: bytes,
    shares: dict[int, KeyShare],
    *,
    cookie: Extension | None = None,
) -> ClientHello:
    extensions = tuple(_extension_bodies(ctx, offer, shares, cookie))
    hello = ClientHello(offer.legacy_version, random, session_id, offer.cipher_suites, b"\x00", extensions)
    padded = ctx.config.layout.pad_client_hello and ExtensionType.PADDING in offer.extensions
    return _pad(hello) if padded else hello


class AwaitingStart(State):
    """A client before ``start()``: it has sent no ClientHello, so nothing from a server can fit.

    A client's first state, so that a client never runs server code (``ExpectClientHello``).
    """

    def decode(self, ctx: HandshakeContext, msg_type: int, body: bytes | memoryview) -> HandshakeMessage:
        """Nothing is expected before the ClientHello is sent."""
        raise UnexpectedMessageError("a client received a handshake message before start()")


def start_client(ctx: HandshakeContext) -> State:
    """Draw the randoms and key share, send the first ClientHello; return the next state."""
    random = ctx.random.draw(32, DrawKind.PUBLIC)
    session_id = ctx.random.draw(32, DrawKind.PUBLIC) if ctx.config.layout.middlebox_compatibility else b""
    offer = _offer(ctx)
    ctx.offered_signature_schemes = offer.signature_schemes
    shares = {group: generate_key_share(group, ctx.random) for group in offer.key_share_groups}
    ctx.client_random = random
    hello = _client_hello(ctx, offer, random, session_id, shares)
    ctx.send(hello, legacy_version=0x0301)
    ctx.version_settled = True
    if not ctx.config.compat.refuse_change_cipher_spec_before_server_hello:
        # = https://www.rfc-editor.org/rfc/rfc8446#section-5
        # = type=implementation
        ## An implementation may receive an unencrypted record of type change_cipher_spec consisting of the single
        ## byte value 0x01 at any time after the first ClientHello message has been sent or received
        ctx.records.allow_change_cipher_spec = True
    return ExpectServerHello(_Hello(hello, shares, offer))


def _check_server_hello(hello: _Hello, server_hello: ServerHello, selected_version: int | None) -> CipherSuite:
    """Common checks of ServerHello and HelloRetryRequest; return the cipher suite."""
    if selected_version != TLS13:
        raise ProtocolVersionError("the server did not select TLS 1.3")
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
    # = type=implementation
    ## A client which receives a legacy_session_id_echo field that does not match what it sent in the
    ## ClientHello MUST abort the handshake with an "illegal_parameter" alert.
    if server_hello.legacy_session_id_echo != hello.message.legacy_session_id:
        raise IllegalParameterError("legacy_session_id_echo does not match")
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
    # = type=implementation
    ## A client which receives a cipher suite that was not offered MUST abort the handshake with an
    ## "illegal_parameter" alert.
    if server_hello.cipher_suite not in hello.message.cipher_suites:
        raise IllegalParameterError("the server chose a suite not offered")
    # A suite offered for TLS 1.2 does not fit the TLS 1.3 the server selected (RFC 8446 B.4 lists
    # TLS 1.3's). s2n's client takes it and fails on the first protected record (S2N-6, docs/findings.md).
    suite = TLS13_SUITES.get(server_hello.cipher_suite)
    if suite is None:
        raise IllegalParameterError("the server chose a TLS 1.2 cipher suite for TLS 1.3")
    return suite


# RFC 8446 4.1.3: the last 8 bytes of a TLS 1.3 server's random when it negotiates TLS 1.2, or below.
_DOWNGRADE_TLS12, _DOWNGRADE_TLS11 = b"DOWNGRD\x01", b"DOWNGRD\x00"


def _s2n_version(version: int) -> int:
    """A wire version as s2n holds it: ``major * 10 + minor`` in a uint8 (tls/s2n_server_hello.c:109)."""
    return ((version >> 8) * 10 + (version & 0xFF)) & 0xFF


def _refusal_without_tls13(ctx: HandshakeContext, server_hello: ServerHello) -> TLSError:
    """What s2n's client makes of a first ServerHello that selected no TLS 1.3: its TLS 1.2 branch
    (tls/s2n_server_hello.c:198-223), reached once the extensions were read with the TLS 1.2 list.

    The version is the legacy_version (:199). s2n checks the downgrade sentinels first (:201,
    :64-73), then the policy's range (:217-220), the one refusal it sends its own alert for
    (protocol_version). Within the range it goes on in that version: below TLS 1.3, a TLS 1.2 (or
    older) handshake the engine does not implement (the oracle's unsupported tier); TLS 1.3 itself
    (0x0304) through the TLS 1.2 branch, without the key share that list never read, which fails
    in the same message (:235 for an echoed session id, else on the missing share), close_notify.
    """
    security_policy = load_policy(ctx.config.policy)
    version = _s2n_version(server_hello.legacy_version)
    highest = _s2n_version(TLS13 if security_policy.supports_tls13 else TLS12)
    sentinel = server_hello.random[-8:]
    tls12 = _s2n_version(TLS12)
    downgraded = (version == tls12 and sentinel == _DOWNGRADE_TLS12) or (
        version < tls12 and sentinel == _DOWNGRADE_TLS11
    )
    if highest == _s2n_version(TLS13) and downgraded:
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
        # = type=implementation
        ## TLS 1.3 clients receiving a ServerHello indicating TLS 1.2 or below MUST check that the last 8 bytes are
        ## not equal to either of these values.
        return IllegalParameterError("downgrade sentinel in the server's random")  # S2N_ERR_PROTOCOL_DOWNGRADE_DETECTED
    if version < _s2n_version(security_policy.minimum_version) or version > highest:
        return ProtocolVersionError("the server's legacy_version is outside the policy's versions")
    if version < highest:
        return ProtocolVersionError("the server negotiates a version below TLS 1.3; the engine has TLS 1.3 only")
    return IllegalParameterError("TLS 1.3 by legacy_version, without supported_versions or its key share")


class _ServerMessageState(State):
    """A state of a client that has sent its ClientHello: the server's messages read as ``Compat`` says."""

    def decode(self, ctx: HandshakeContext, msg_type: int, body: bytes | memoryview) -> HandshakeMessage:
        """As s2n's client parses them (``Compat.lenient_server_messages``), or with the typed codecs."""
        if ctx.config.compat.lenient_server_messages:
            return decode_server_message_as_s2n(msg_type, body)
        return super().decode(ctx, msg_type, body)


class ExpectServerHello(_ServerMessageState):
    """Waiting for ServerHello (or one HelloRetryRequest)."""

    def __init__(self, hello: _Hello, retried: bool = False) -> None:
        self._hello = hello
        self._retried = retried

    def decode(self, ctx: HandshakeContext, msg_type: int, body: bytes | memoryview) -> HandshakeMessage:
        """The random first, as s2n reads it (tls/s2n_server_hello.c ``s2n_server_hello_parse``).

        A HelloRetryRequest is one from its random on: the handshake type takes the flag
        (the position names HELLO_RETRY_MSG) before the rest of the message is read.
        """
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
        # = type=implementation
        ## Upon receiving a message with type server_hello, implementations MUST first examine the Random value
        ## and, if it matches this value, process it as described in Section 4.1.4).
        if msg_type == HandshakeType.SERVER_HELLO and bytes(body[2:34]) == HELLO_RETRY_REQUEST_RANDOM:
            # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
            # = type=implementation
            ## If a client receives a second HelloRetryRequest in the same connection (i.e., where the ClientHello
            ## was itself in response to a HelloRetryRequest), it MUST abort the handshake with an
            ## "unexpected_message" alert.
            if self._retried:
                raise UnexpectedMessageError("second HelloRetryRequest")
            # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
            # = type=implementation
            ## Upon receipt of a HelloRetryRequest, the client MUST check the legacy_version
            if bytes(body[:2]) != b"\x03\x03":  # s2n: S2N_ERR_INVALID_HELLO_RETRY
                raise IllegalParameterError("HelloRetryRequest legacy_version is not TLS 1.2")
            ctx.set_hello_retry()
        return super().decode(ctx, msg_type, body)

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Derive the handshake keys, or answer a HelloRetryRequest, checking as ``s2n_server_hello_parse`` does.

        After the fixed fields (legacy_version and the random in ``decode``, compression here):
        the extensions (tls/s2n_server_hello.c:164), supported_versions first, then the list of
        the version it leaves (``server_hello_list``), before the version is decided (:170-221);
        then the session id (:191) and the suite (:194), a HelloRetryRequest's group, or the key share.
        """
        message = expect(message, ServerHello)
        ctx.records.establish_version()  # tls/s2n_server_hello.c:273, a HelloRetryRequest too
        # tls/s2n_server_hello.c:156: the compression method is checked as it is read, before
        # the extensions and the version (a generic close_notify, not protocol_version).
        if message.legacy_compression_method != 0:
            raise IllegalParameterError("the server chose a compression method not offered")
        retry = message.is_hello_retry_request
        lenient = ctx.config.compat.lenient_server_extensions
        kind = self._extension_list(message, lenient=lenient)
        read = read_server_extensions(kind, message.extensions, self._hello.requested, lenient=lenient)
        if kind is ServerMessage.SERVER_HELLO_TLS12:
            raise _refusal_without_tls13(ctx, message)
        # s2n checks the share's group in key_share's receive function, with the extensions
        # (tls/extensions/s2n_server_key_share.c:308-332), before the session id and the suite;
        # a missing key_share only shows after them. The RFC reading keeps its order: the share last.
        found = self._server_share(read) if lenient and not retry else None
        suite = _check_server_hello(self._hello, message, self._selected_version(ctx, read))
        if ctx.negotiated.suite is not None and ctx.negotiated.suite != suite:
            raise IllegalParameterError("ServerHello suite differs from the HelloRetryRequest's")
        ctx.negotiated.suite = suite
        ctx.transcript.choose_hash(suite.hash_name)
        if retry:
            return self._retry(ctx, message, raw, read)
        found = found or self._server_share(read)
        if found is None:
            raise MissingExtensionError("ServerHello has no key_share")
        share, key_exchange = found
        # tls/s2n_server_hello.c s2n_server_hello_recv: the handshake type once the message is parsed.
        ctx.set_handshake_type(middlebox=ctx.config.layout.middlebox_compatibility)
        ctx.transcript.add(raw)
        ctx.negotiated.group = share.group
        ctx.schedule = KeySchedule(suite.hash_name)
        ctx.derive_handshake_secrets(share.exchange(key_exchange))
        ctx.use_handshake_keys(read=True, write=False)
        ctx.finish_read()  # after the key schedule update, as s2n_finish_read
        return ExpectEncryptedExtensions(self._hello.requested)

    def _extension_list(self, message: ServerHello, *, lenient: bool) -> ServerMessage:
        """The descriptors to read the message's extensions with: s2n's choice (``server_hello_list``) when lenient.

        The RFC reading has one ServerHello list, and refuses a ServerHello without TLS 1.3 on its
        version (``_check_server_hello``) once the extensions were read.
        """
        if message.is_hello_retry_request:
            return ServerMessage.HELLO_RETRY_REQUEST
        if lenient:
            return server_hello_list(message.extensions, retried=self._retried)
        return ServerMessage.SERVER_HELLO

    def _server_share(self, read: ServerExtensions) -> tuple[KeyShare, bytes] | None:
        """Our share for the group of the server's key_share, and the server's share; None without the extension."""
        if read.server_share is None:
            return None
        group, key_exchange = read.server_share
        share = self._hello.shares.get(group)
        if share is None:
            raise IllegalParameterError("the server's key share is for a group we sent no share for")
        return share, key_exchange

    def _selected_version(self, ctx: HandshakeContext, read: ServerExtensions) -> int | None:
        """The version the message selects: its supported_versions, or (s2n) the HelloRetryRequest's.

        s2n sets ``server_protocol_version`` from the HelloRetryRequest's supported_versions
        (tls/extensions/s2n_server_supported_versions.c:88) and nothing resets it; the ServerHello's
        extension may be absent (``s2n_extension_noop_if_missing``, :49), and then
        tls/s2n_server_hello.c:177 reads the message as TLS 1.3 with every other check unchanged.
        A retried handshake's HelloRetryRequest selected TLS 1.3 (``_check_server_hello``).
        """
        # Compat.keep_hello_retry_version; off, an absent extension selects no TLS 1.3 (protocol_version).
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
        # = type=exception
        ## The value of selected_version in the HelloRetryRequest "supported_versions" extension MUST be
        ## retained in the ServerHello, and a client MUST abort the handshake with an "illegal_parameter"
        ## alert if the value changes.
        if read.selected_version is None and self._retried and ctx.config.compat.keep_hello_retry_version:
            return TLS13
        return read.selected_version

    def _retry(self, ctx: HandshakeContext, retry: ServerHello, raw: bytes, read: ServerExtensions) -> State:
        """Answer the HelloRetryRequest: our CCS (in a MIDDLEBOX_COMPAT sequence), then the second ClientHello."""
        group = read.selected_group
        if group is None:
            raise IllegalParameterError("HelloRetryRequest changes nothing")
        if group not in self._hello.groups or group in self._hello.shares:
            raise IllegalParameterError("HelloRetryRequest asks for a group not offered or already shared")
        ctx.set_handshake_type(middlebox=ctx.config.layout.middlebox_compatibility)
        ctx.transcript.replace_with_message_hash()
        ctx.received(raw)
        shares = {group: generate_key_share(group, ctx.random)}
        first = self._hello.message
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.2
        # = type=implementation
        ## When sending the new ClientHello, the client MUST copy the contents of the extension received in the
        ## HelloRetryRequest into a "cookie" extension in the new ClientHello.
        # s2n echoes the cookie it read (s2n_cookie_send), and none when it is empty (s2n_client_cookie_should_send).
        cookie = Extension.of(ExtensionType.COOKIE, Cookie(read.cookie)) if read.cookie else None
        hello = _client_hello(ctx, self._hello.offer, first.random, first.legacy_session_id, shares, cookie=cookie)
        ctx.send(hello)
        return ExpectServerHello(_Hello(hello, shares, self._hello.offer), retried=True)


class ExpectEncryptedExtensions(_ServerMessageState):
    """Waiting for EncryptedExtensions."""

    def __init__(self, requested: frozenset[int]) -> None:
        self._requested = requested

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Check the extensions the server may send here (``engine.handshake.server_extensions``); note ALPN."""
        message = expect(message, EncryptedExtensions)
        lenient = ctx.config.compat.lenient_server_extensions
        read = read_server_extensions(ServerMessage.ENCRYPTED_EXTENSIONS, message.extensions, self._requested,
                                      lenient=lenient)  # fmt: skip
        if read.alpn is not None:
            # s2n takes the server's choice as it is (tls/extensions/s2n_server_alpn.c).
            if not lenient and read.alpn not in ctx.config.alpn:
                raise IllegalParameterError("the server chose a protocol we did not offer")
            ctx.negotiated.alpn = read.alpn
        ctx.received(raw)
        return ExpectCertificate(self._requested)


class ExpectCertificate(_ServerMessageState):
    """Waiting for the server's Certificate."""

    def __init__(self, requested: frozenset[int]) -> None:
        self._requested = requested

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Parse and, unless verification is off, validate the chain.

        With verification on, each certificate is held to the policy's certificate
        preferences as it is read, and the trust anchor the path reaches to its key
        preferences, as s2n's x509 validator does (on the OpenSSL 3.0 build).
        """
        message = expect(message, Certificate)
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.4.2
        # = type=implementation
        ## Otherwise (in the case of server authentication), this field SHALL be zero length.
        if message.certificate_request_context:  # tls/s2n_server_cert.c: S2N_ERR_BAD_MESSAGE
            raise IllegalParameterError("the server's Certificate has a certificate_request_context")
        leaf_extensions = message.entries[0].extensions if message.entries else ()
        lenient = ctx.config.compat.lenient_server_extensions
        read_server_extensions(ServerMessage.CERTIFICATE, leaf_extensions, self._requested, lenient=lenient)
        # s2n reads at most MAX_CHAIN_DEPTH certificates (tls/s2n_x509_validator.c:587); more is an error only
        # when it validates (:624, S2N_ERR_CERT_MAX_CHAIN_DEPTH_EXCEEDED), after the first ones were checked.
        certificates = [entry.cert_data for entry in message.entries]
        read = certificates[:MAX_CHAIN_DEPTH]
        trailing = ctx.config.compat.lenient_server_messages  # bytes after a DER certificate (parse_chain)
        if not ctx.config.verify:
            chain = parse_chain(read, trailing=trailing)
        else:
            if not ctx.config.trust_anchors:  # s2n refuses before it reads a certificate (tls/s2n_x509_validator.c:577)
                raise CertificateUnknownError("no trust anchors: no chain can be trusted")
            security_policy = load_policy(ctx.config.policy)
            chain = parse_chain(
                read, lambda cert: check_certificate_preferences(cert, security_policy, OPENSSL_3), trailing=trailing
            )
            if len(certificates) > MAX_CHAIN_DEPTH:
                raise BadCertificateError(f"{len(certificates)} certificates: more than {MAX_CHAIN_DEPTH}")
            verify_host = _host_check(ctx)
            if verify_host is not None:  # s2n asks it before it builds the path (tls/s2n_x509_validator.c:645-646)
                check_host(chain[0], verify_host)
            name = None if verify_host is not None else ctx.verify_name or ""
            validated = verify_chain(chain, ctx.config.trust_anchors, name)
            check_root_certificate(validated, security_policy, OPENSSL_3)
        ctx.negotiated.peer_chain = tuple(entry.cert_data for entry in message.entries)
        ctx.received(raw)
        return ExpectCertificateVerify(chain[0])


def _host_check(ctx: HandshakeContext) -> VerifyHost | None:
    """The config's verify_host, else s2n's default one (``Compat.s2n_host_check``); None: RFC 6125 matching."""
    if ctx.config.verify_host is not None:
        return ctx.config.verify_host
    return default_verify_host(ctx.verify_name or "") if ctx.config.compat.s2n_host_check else None


class ExpectCertificateVerify(_ServerMessageState):
    """Waiting for the server's CertificateVerify."""

    def __init__(self, leaf: x509.Certificate) -> None:
        self._leaf = leaf

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Check the signature over the transcript so far."""
        message = expect(message, CertificateVerify)
        if message.algorithm not in ctx.offered_signature_schemes:
            raise IllegalParameterError("the server signed with a scheme we did not offer")
        verify_signature(self._leaf, message.algorithm, ctx.transcript.digest(), message.signature)
        ctx.negotiated.signature_scheme = message.algorithm
        ctx.received(raw)
        return ExpectServerFinished()


class ExpectServerFinished(_ServerMessageState):
    """Waiting for the server's Finished; then the client's CCS and Finished go out."""

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Verify the server's Finished, send ours, switch to application keys."""
        message = expect(message, Finished)
        ctx.check_peer_finished(message.verify_data)
        ctx.transcript.add(raw)
        ctx.derive_application_secrets()
        # K_send = handshake once the server's Finished is read (tls/s2n_tls13_key_schedule.c, s2n_client_key_schedule),
        # before the position moves on: an alert for what follows in its record goes out under these keys.
        ctx.use_handshake_keys(read=False, write=True)
        ctx.finish_read()  # then our CCS, in a MIDDLEBOX_COMPAT sequence without a HelloRetryRequest
        ctx.send(Finished(ctx.finished_verify_data(ours=True)))  # the position: APPLICATION_DATA
        ctx.use_application_keys(read=True, write=True)
        return Connected()
