"""The server side of the TLS 1.3 handshake, one small class per state, as s2n-tls runs it.

Flight (each message in its own record): ServerHello, ChangeCipherSpec (middlebox
compatibility: always, as s2n; with ``MessageLayout(middlebox_compatibility=False)`` only
when the client sent a session id), EncryptedExtensions, Certificate, CertificateVerify,
Finished: the messages of s2n's sequence for the handshake type (``engine.handshake.sequence``).
Randomness is drawn in s2n's order: server random, then the key share, then (RSA-PSS
only) the signature salt.

A ClientHello is read as s2n's server reads it (tls/s2n_client_hello.c,
``s2n_parse_client_hello`` then ``s2n_process_client_hello``): the second one, after a
HelloRetryRequest, is compared with the first (``s2n_client_hello_verify_for_retry``),
then supported_versions, key shares and the rest are processed, the cipher suite
chosen again (it must not change), the signature scheme and certificate chosen, and
only while the ServerHello is written is the key share found missing
(tls/extensions/s2n_server_key_share.c). Where s2n departs from RFC 8446, the engine
follows it under ``Compat.lenient_client_hello`` / ``Compat.lenient_second_client_hello``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from engine.config import CertifiedKey
from engine.crypto.key_exchange import generate_key_share
from engine.crypto.key_schedule import KeySchedule
from engine.crypto.signer import SignatureScheme, SigningError
from engine.crypto.suites import suite_for
from engine.errors import (
    IllegalParameterError,
    InternalError,
    MissingExtensionError,
    ProtocolVersionError,
    UnexpectedMessageError,
    UnsupportedExtensionError,
)
from engine.handshake.client_offer import (
    TLS13,
    ClientOffer,
    check_extensions_before_version,
    offer_context,
    read_offer,
    read_versions_as_s2n,
    s2n_version,
)
from engine.handshake.context import HandshakeContext, certificate_verify_digest
from engine.handshake.names import HandshakeFlags
from engine.handshake.negotiation import select_certificates, select_cipher_suite, select_group, select_signature
from engine.handshake.state import Connected, State, expect
from engine.policies import SecurityPolicy
from engine.policies import policy as load_policy
from engine.randomness import DrawKind
from engine.record.sslv2 import SSLV2_CLIENT_HELLO, read_sslv2_client_hello
from engine.wire.codec import Struct
from engine.wire.extensions import (
    Cookie,
    Extension,
    ExtensionType,
    KeyShareEntry,
    KeyShareHelloRetryRequest,
    KeyShareServerHello,
    ProtocolNameList,
    SupportedVersionsServer,
    find_extension,
)
from engine.wire.handshake import (
    HELLO_RETRY_REQUEST_RANDOM,
    S2N_PARSED_EXTENSIONS,
    Certificate,
    CertificateEntry,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    Finished,
    HandshakeMessage,
    HandshakeType,
    ServerHello,
    decode_client_hello_as_s2n,
)

__all__ = ["ExpectClientFinished", "ExpectClientHello"]


def _encrypted_extensions(ctx: HandshakeContext, offer: ClientOffer, name_matched: bool) -> EncryptedExtensions:
    """s2n's EncryptedExtensions order: server_name (acknowledged when the SNI matched a name), ALPN."""
    extensions = [Extension(kind, body) for kind, body in ctx.config.layout.encrypted_extensions]
    if name_matched:
        extensions.append(Extension(ExtensionType.SERVER_NAME, b""))
    # s2n picks the server's most preferred protocol the client offers.
    chosen = next((name for name in ctx.config.alpn if name in offer.alpn), None)
    if chosen is not None:
        ctx.negotiated.alpn = chosen
        extensions.append(
            Extension.of(ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION, ProtocolNameList((chosen,)))
        )
    return EncryptedExtensions(tuple(extensions))


class ExpectClientHello(State):
    """Waiting for the first (or, after a HelloRetryRequest, the second) ClientHello."""

    def __init__(self, first: ClientHello | None = None, retry_group: int | None = None) -> None:
        self._first = first
        self._retry_group = retry_group

    def decode(self, ctx: HandshakeContext, msg_type: int, body: bytes | memoryview) -> HandshakeMessage:
        """Parse a ClientHello as s2n does under ``Compat.lenient_client_hello``."""
        if msg_type == HandshakeType.CLIENT_HELLO and ctx.config.compat.lenient_client_hello:
            return decode_client_hello_as_s2n(body)
        return super().decode(ctx, msg_type, body)

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Negotiate (all of it before the position moves on, as in s2n's handler), then answer.

        The answer is a HelloRetryRequest or the whole server flight; the handshake type is
        set first (tls/s2n_establish_session.c: ``s2n_conn_set_handshake_type`` once the
        ClientHello is processed), so the sequence says which.
        """
        message = expect(message, ClientHello)
        ctx.version_settled = True
        offer = self._read(ctx, message)
        group, share_missing = self._negotiate(ctx, message, offer)
        retry = self._first is None and bool(ctx.flags & HandshakeFlags.HELLO_RETRY_REQUEST)
        authentication = _select_authentication(ctx, offer)
        # MIDDLEBOX_COMPAT is decided by the first ClientHello: it has shaped the sequence since.
        first = self._first or message
        ctx.set_handshake_type(middlebox=ctx.config.layout.middlebox_compatibility or bool(first.legacy_session_id))
        ctx.received(raw)
        if share_missing:
            # s2n: S2N_ERR_BAD_KEY_SHARE from s2n_server_key_share_send, writing the ServerHello (before any byte).
            raise IllegalParameterError("second ClientHello still needs a retry")
        if retry:
            return _send_hello_retry(ctx, message, group)
        return _send_flight(ctx, offer, group, authentication)

    def handle_sslv2(self, ctx: HandshakeContext, content: bytes) -> NoReturn:
        """An SSLv2 CLIENT-HELLO record (``Compat.s2n_record_framing``), refused as s2n refuses it, or beyond.

        s2n reads one only as the first ClientHello (tls/s2n_handshake_io.c:1527, :1331; after a
        HelloRetryRequest tls/s2n_client_hello.c:441-443), parses it (``read_sslv2_client_hello``;
        a malformed one gets its close_notify in a TLS 1.0 record) and takes its version, at most
        TLS 1.2 (:835), as ``actual_protocol_version`` (:580-582: no extensions, no supported_versions).
        Below the policy's minimum it refuses with protocol_version in a record of that version
        (:585-587, ``_s2n_record_version``: 0x0001 as ``15 00 01``); otherwise it goes on in TLS 1.2
        or lower, which the engine does not speak (the oracle's ``unsupported`` tier): the engine
        refuses the same way.
        """
        if content[0] != SSLV2_CLIENT_HELLO or self._first is not None:
            raise UnexpectedMessageError("SSLv2 record other than a first CLIENT-HELLO")
        if ctx.incoming.pending:
            # s2n parses the fragment's bytes and this record's body as one SSLv2 hello (both go into
            # handshake.io, tls/s2n_handshake_io.c:1343): a ClientHello's 01 then the body's 00 (a cipher spec
            # list under 256 bytes) read as cipher_spec_length 256, no multiple of 3: refused, as here.
            raise UnexpectedMessageError("SSLv2 CLIENT-HELLO after a fragment of a handshake message")
        hello = read_sslv2_client_hello(content)
        client_version = min(s2n_version(hello.version), _S2N_TLS12)
        ctx.alert_record_version = _s2n_record_version(client_version)
        if client_version < s2n_version(load_policy(ctx.config.policy).minimum_version):
            raise ProtocolVersionError("the SSLv2 ClientHello's version is below the policy's minimum")
        raise ProtocolVersionError("an SSLv2 ClientHello offers TLS 1.2 at most (TLS 1.3 only here)")

    def _read(self, ctx: HandshakeContext, message: ClientHello) -> ClientOffer:
        """The checks s2n makes while parsing the ClientHello and processing its extensions."""
        compat = ctx.config.compat
        policy = load_policy(ctx.config.policy)
        if self._first is not None:
            _check_second_hello(self._first, message, lenient=compat.lenient_second_client_hello)
        # s2n processes supported_versions before any other extension (tls/extensions/s2n_extension_type_lists.c).
        versions_sent = (
            _check_versions_as_s2n(ctx, message, policy, self._first) if compat.lenient_client_hello else True
        )
        context = offer_context(ctx.config, policy, retry=self._first is not None)
        offer = read_offer(message, lenient=compat.lenient_client_hello, context=context)
        if self._first is not None:
            _check_second_offer(offer, policy, versions_sent)
        _check_cookie(message, ctx.config.layout.hello_retry_cookie if self._first is not None else b"")
        return offer

    def _negotiate(self, ctx: HandshakeContext, message: ClientHello, offer: ClientOffer) -> tuple[int, bool]:
        """Cipher suite and key-share group: return the group, and whether a second ClientHello's share is missing.

        A first ClientHello may need a retry for the group. A second one whose key_share has no
        share s2n can use fails only as the ServerHello is written (``Compat.lenient_second_client_hello``).
        """
        compat = ctx.config.compat
        policy = load_policy(ctx.config.policy)
        suite = suite_for(select_cipher_suite(policy, offer.cipher_suites))
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
        # = type=implementation
        ## Servers MUST ensure that they negotiate the same cipher suite when receiving a conformant updated
        ## ClientHello
        if self._first is not None and ctx.negotiated.suite is not None and suite.code != ctx.negotiated.suite.code:
            # s2n: S2N_ERR_BAD_MESSAGE (tls/s2n_client_hello.c, s2n_process_client_hello)
            raise IllegalParameterError("the second ClientHello negotiates another cipher suite")
        ctx.negotiated.suite = suite
        ctx.transcript.choose_hash(suite.hash_name)
        ctx.negotiated.server_name = offer.server_name
        ctx.client_random = message.random
        choice = select_group(policy, offer.groups, tuple(offer.shares))
        if self._first is None:
            if choice.hello_retry:
                ctx.set_hello_retry()  # s2n_set_hello_retry_required, as it processes key_share
            return choice.group, False
        lenient = compat.lenient_second_client_hello
        # s2n takes any usable share the second ClientHello brings, not only one for the group it asked for.
        if not lenient and choice.group != self._retry_group:
            raise IllegalParameterError("second ClientHello lacks the requested key share")
        # s2n finds the share missing only while writing the ServerHello: with a key_share extension
        # before writing a byte (handle), without one after writing it (_send_server_hello).
        if choice.hello_retry and not lenient:
            raise IllegalParameterError("second ClientHello still needs a retry")
        return choice.group, choice.hello_retry and offer.key_share_present


@dataclass(frozen=True)
class _Authentication:
    """The server's signature scheme and certificate, and whether the client's SNI matched a name."""

    scheme: int
    certificate: CertifiedKey
    name_matched: bool


def _select_authentication(ctx: HandshakeContext, offer: ClientOffer) -> _Authentication:
    """Signature scheme and certificate: s2n selects them for every ClientHello, a retried one too.

    tls/s2n_client_hello.c ``s2n_process_client_hello``: ``s2n_signature_algorithm_select`` then
    ``s2n_select_certs_for_server_auth``, whether or not a HelloRetryRequest follows.
    """
    policy = load_policy(ctx.config.policy)
    candidates = select_certificates(ctx.config.certificates, offer.server_name)
    scheme, certificate = select_signature(
        policy, offer.signature_schemes, candidates, fallback=ctx.config.compat.signature_fallback
    )
    ctx.negotiated.signature_scheme, ctx.negotiated.certificate = scheme, certificate
    return _Authentication(scheme, certificate, candidates.name_matched)


_S2N_TLS10, _S2N_TLS12 = 31, 33


def _s2n_record_version(protocol_version: int) -> int:
    """The legacy_record_version s2n writes for an ``actual_protocol_version`` (``major * 10 + minor``).

    tls/s2n_record_write.c:173-219 ``s2n_record_protocol_version``: at most TLS 1.2, unknown (0)
    as TLS 1.0, and otherwise the one byte split back: ``version / 10, version % 10``.

    >>> [hex(_s2n_record_version(version)) for version in (0, 1, 23, 30, 34)]
    ['0x301', '0x1', '0x203', '0x300', '0x303']
    """
    version = min(protocol_version, _S2N_TLS12) or _S2N_TLS10
    return (version // 10) << 8 | version % 10


def _check_versions_as_s2n(
    ctx: HandshakeContext, hello: ClientHello, policy: SecurityPolicy, first: ClientHello | None
) -> bool:
    """supported_versions as ``s2n_client_supported_versions_recv`` reads it; return whether it was sent.

    A malformed extension, or one offering no version the policy accepts, makes s2n forget the
    protocol version (``actual_protocol_version`` unknown): its protocol_version alert then goes
    out in a TLS 1.0 record. Without the extension s2n takes a first ClientHello's legacy_version
    (at most TLS 1.2, which the engine does not speak), and refuses one below the policy's minimum
    in a record of that version, its one byte split back (0x0001, 0x0203: ``_s2n_record_version``);
    a second ClientHello keeps TLS 1.3 (``_check_second_offer``).
    """
    versions = read_versions_as_s2n(hello, policy.minimum_version)
    if not versions.present:
        if first is not None and ctx.config.compat.lenient_second_client_hello:
            return False
        if first is None:  # s2n reads the other extensions first, no version known: a failure is a TLS 1.0 record
            ctx.version_settled = False
            check_extensions_before_version(hello, offer_context(ctx.config, policy, retry=False))
            ctx.version_settled = True
            # tls/s2n_client_hello.c:475, :581-587: the version is then legacy_version's, at most TLS 1.2; one
            # below the policy's minimum is refused in a record of that version (a garbage one too).
            ctx.alert_record_version = _s2n_record_version(min(s2n_version(hello.legacy_version), _S2N_TLS12))
        raise ProtocolVersionError("the client does not offer TLS 1.3")
    if versions.selected is None:
        ctx.version_settled = False  # s2n_record_protocol_version: an unknown version is written as TLS 1.0
        raise ProtocolVersionError("supported_versions is malformed or offers no version the policy accepts")
    if versions.selected != TLS13:
        if first is not None:
            # s2n: S2N_ERR_PROTOCOL_VERSION_UNSUPPORTED without queuing the protocol_version alert.
            raise IllegalParameterError("the second ClientHello no longer offers TLS 1.3")
        raise ProtocolVersionError("the client does not offer TLS 1.3")
    return True


def _check_second_offer(offer: ClientOffer, policy: SecurityPolicy, versions_sent: bool) -> None:
    """What s2n checks of a second ClientHello while processing its extensions."""
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
    # = type=implementation
    ## If a "key_share" extension was supplied in the HelloRetryRequest, replacing the list of shares with a list
    ## containing a single KeyShareEntry from the indicated group.
    if offer.key_share_present and offer.key_share_entries != 1:
        # s2n_client_key_share_recv: S2N_ERR_BAD_MESSAGE unless exactly one entry (usable or not).
        raise IllegalParameterError("the second ClientHello must carry exactly one key share")
    # Without supported_versions s2n keeps the version it chose for the first ClientHello, but
    # holds legacy_version (at most TLS 1.2) to the policy's minimum (s2n_process_client_hello).
    if not versions_sent and min(s2n_version(offer.hello.legacy_version), 33) < s2n_version(policy.minimum_version):
        raise ProtocolVersionError("the second ClientHello has no supported_versions")


# Extensions that may change in a second ClientHello (s2n's exceptions to the RFC rule).
_MAY_CHANGE_AFTER_RETRY = frozenset({
    ExtensionType.KEY_SHARE, ExtensionType.COOKIE, ExtensionType.PRE_SHARED_KEY, ExtensionType.SUPPORTED_VERSIONS,
    ExtensionType.EARLY_DATA, ExtensionType.PADDING,
})  # fmt: skip
# s2n compares only extensions it knows.
_KNOWN_EXTENSIONS = S2N_PARSED_EXTENSIONS


def _check_cookie(hello: ClientHello, sent: bytes) -> None:
    """A ClientHello carries exactly the cookie this server sent (s2n sends none)."""
    cookie = find_extension(hello.extensions, ExtensionType.COOKIE)
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2
    # = type=implementation
    ## Implementations MUST NOT send extension responses if the remote endpoint did not send the corresponding
    ## extension requests, with the exception of the "cookie" extension in the HelloRetryRequest.  Upon
    ## receiving such an extension, an endpoint MUST abort the handshake with an "unsupported_extension" alert.
    if cookie is not None and not sent:
        raise UnsupportedExtensionError("cookie in a ClientHello, but this server sent none")
    if sent and (cookie is None or Cookie.decode(cookie.data).cookie != sent):
        raise IllegalParameterError("the second ClientHello does not echo the cookie")


def _extension_data(hello: ClientHello) -> dict[int, bytes]:
    return {extension.extension_type: extension.data for extension in hello.extensions}


def _check_second_hello(first: ClientHello, second: ClientHello, *, lenient: bool) -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
    # = type=implementation
    ## The client will also send a ClientHello when the server has responded to its ClientHello with a
    ## HelloRetryRequest.  In that case, the client MUST send the same ClientHello without modification, except
    ## as follows: [key_share, early_data, cookie, pre_shared_key, padding]
    if (first.legacy_version, first.legacy_compression_methods) != (
        second.legacy_version,
        second.legacy_compression_methods,
    ):
        raise IllegalParameterError("second ClientHello changed its version or compression methods")
    if not lenient and (first.random, first.legacy_session_id, first.cipher_suites) != (
        second.random,
        second.legacy_session_id,
        second.cipher_suites,
    ):
        raise IllegalParameterError("second ClientHello changed its random, session id or cipher suites")
    old, new = _extension_data(first), _extension_data(second)
    if ExtensionType.EARLY_DATA in new:
        raise IllegalParameterError("early_data after a HelloRetryRequest")
    # s2n tells a present extension by its size, so an empty one counts as absent (lenient).
    absent = b"" if lenient else None
    for extension_type in (_KNOWN_EXTENSIONS if lenient else set(old) | set(new)) - _MAY_CHANGE_AFTER_RETRY:
        if old.get(extension_type, absent) != new.get(extension_type, absent):
            raise IllegalParameterError(f"second ClientHello changed extension {extension_type}")


# Extensions the server sends only in response to the client's (s2n_extension_send: ``is_response``).
_RESPONSES = frozenset({ExtensionType.SUPPORTED_VERSIONS, ExtensionType.KEY_SHARE})


def _in_order(bodies: dict[int, Struct], order: tuple[int, ...], hello: ClientHello) -> tuple[Extension, ...]:
    """The extensions that have a body, in the layout's order; responses only to what ``hello`` requested."""
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2
    # = type=implementation
    ## Implementations MUST NOT send extension responses if the remote endpoint did not send the corresponding
    ## extension requests, with the exception of the "cookie" extension in the HelloRetryRequest.
    requested = {extension.extension_type for extension in hello.extensions}
    return tuple(
        Extension.of(kind, bodies[kind])
        for kind in order
        if kind in bodies and (kind not in _RESPONSES or kind in requested)
    )


def _send_hello_retry(ctx: HandshakeContext, hello: ClientHello, group: int) -> State:
    ctx.transcript.replace_with_message_hash()
    layout = ctx.config.layout
    bodies: dict[int, Struct] = {
        ExtensionType.SUPPORTED_VERSIONS: SupportedVersionsServer(TLS13),
        ExtensionType.KEY_SHARE: KeyShareHelloRetryRequest(group),
    }
    if layout.hello_retry_cookie:
        bodies[ExtensionType.COOKIE] = Cookie(layout.hello_retry_cookie)
    extensions = _in_order(bodies, layout.hello_retry_extensions, hello)
    retry = ServerHello(0x0303, HELLO_RETRY_REQUEST_RANDOM, hello.legacy_session_id, ctx.suite.code, 0, extensions)
    ctx.send(retry)  # then the CCS, in a MIDDLEBOX_COMPAT sequence
    return ExpectClientHello(first=hello, retry_group=group)


def _send_server_hello(ctx: HandshakeContext, offer: ClientOffer, group: int) -> None:
    random = ctx.random.draw(32, DrawKind.PUBLIC)
    bodies: dict[int, Struct] = {ExtensionType.SUPPORTED_VERSIONS: SupportedVersionsServer(TLS13)}
    client_share = offer.shares.get(group)
    key_share = None if client_share is None else generate_key_share(group, ctx.random)
    if key_share is not None:
        bodies[ExtensionType.KEY_SHARE] = KeyShareServerHello(KeyShareEntry(group, key_share.public))
    ctx.negotiated.group = group
    hello = offer.hello
    extensions = _in_order(bodies, ctx.config.layout.server_hello_extensions, hello)
    ctx.write_message(ServerHello(0x0303, random, hello.legacy_session_id, ctx.suite.code, 0, extensions))
    ctx.records.establish_version()  # tls/s2n_server_hello.c:340 (not after a HelloRetryRequest)
    if key_share is None or client_share is None:
        # A second ClientHello without key_share (Compat.lenient_second_client_hello): s2n writes the ServerHello
        # without one, then fails computing the shared secret (S2N_ERR_NULL or S2N_ERR_SAFETY, internal errors),
        # still at SERVER_HELLO: the secrets are updated before the position moves on (s2n_handshake_write_io).
        # The peer's fault, so the engine says missing_extension.
        raise MissingExtensionError("the second ClientHello has no key_share")
    ctx.schedule = KeySchedule(ctx.suite.hash_name)
    ctx.derive_handshake_secrets(key_share.exchange(client_share))
    ctx.finish_write()  # then the CCS, in a MIDDLEBOX_COMPAT sequence without a HelloRetryRequest


def _send_flight(ctx: HandshakeContext, offer: ClientOffer, group: int, authentication: _Authentication) -> State:
    scheme, certificate = authentication.scheme, authentication.certificate
    _send_server_hello(ctx, offer, group)
    ctx.use_handshake_keys(read=True, write=True)
    with ctx.one_record(ctx.config.layout.coalesce_server_flight):
        ctx.send(_encrypted_extensions(ctx, offer, authentication.name_matched))
        entries = tuple(CertificateEntry(der, ()) for der in certificate.chain)
        ctx.send(Certificate(b"", entries))
        ctx.send(CertificateVerify(scheme, _sign(ctx, scheme, certificate)))
        ctx.send(Finished(ctx.finished_verify_data(ours=True)))
    ctx.derive_application_secrets()
    ctx.use_application_keys(read=False, write=True)
    return ExpectClientFinished()


def _sign(ctx: HandshakeContext, scheme: int, certificate: CertifiedKey) -> bytes:
    """The CertificateVerify signature; a signer that cannot sign is our fault, not the peer's."""
    digest = certificate_verify_digest(scheme, ctx.transcript.digest(), server=True)
    try:
        return certificate.signer.sign_digest(SignatureScheme(scheme), digest, ctx.random)
    except SigningError as error:
        raise InternalError(f"the signer failed: {error}") from None


class ExpectClientFinished(State):
    """Waiting for the client's Finished (its ChangeCipherSpec is dropped by the record layer)."""

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Check the client's Finished; then both directions use application keys."""
        message = expect(message, Finished)
        ctx.check_peer_finished(message.verify_data)
        ctx.received(raw)  # the position: APPLICATION_DATA
        ctx.use_application_keys(read=True, write=False)
        return Connected()
