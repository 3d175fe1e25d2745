"""The server side of the TLS 1.3 handshake, one small class per state, as s2n-tls runs it.

Flight (each message in its own record): ServerHello, ChangeCipherSpec (middlebox
compatibility, when the client sent a session id), EncryptedExtensions, Certificate,
CertificateVerify, Finished. Randomness is drawn in s2n's order: server random,
then the key share, then (RSA-PSS only) the signature salt.
"""

from __future__ import annotations

from engine.crypto.key_exchange import generate_key_share
from engine.crypto.key_schedule import KeySchedule
from engine.crypto.signer import SignatureScheme
from engine.crypto.suites import suite_for
from engine.errors import IllegalParameterError, UnsupportedExtensionError
from engine.handshake.client_offer import TLS13, ClientOffer, read_offer
from engine.handshake.context import HandshakeContext, certificate_verify_digest
from engine.handshake.names import HandshakeFlags
from engine.handshake.negotiation import select_certificates, select_cipher_suite, select_group, select_signature
from engine.handshake.state import Connected, State, expect
from engine.policies import CLIENT_HELLO_EXTENSIONS
from engine.policies import policy as load_policy
from engine.randomness import DrawKind
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
        """Negotiate, then send HelloRetryRequest or the whole server flight."""
        message = expect(message, ClientHello)
        ctx.version_settled = True
        if self._first is not None:
            _check_second_hello(self._first, message, lenient=ctx.config.compat.lenient_second_client_hello)
        _check_cookie(message, ctx.config.layout.hello_retry_cookie if self._first is not None else b"")
        ctx.received(raw, "CLIENT_HELLO")
        offer = read_offer(message, lenient=ctx.config.compat.lenient_client_hello)
        policy = load_policy(ctx.config.policy)
        suite = suite_for(select_cipher_suite(policy, offer.cipher_suites))
        ctx.negotiated.suite = suite
        ctx.transcript.choose_hash(suite.hash_name)
        ctx.negotiated.server_name = offer.server_name
        ctx.client_random = message.random
        choice = select_group(policy, offer.groups, tuple(offer.shares))
        if self._retry_group is not None and choice.group != self._retry_group:
            raise IllegalParameterError("second ClientHello lacks the requested key share")
        if choice.hello_retry:
            if self._first is not None:
                raise IllegalParameterError("second ClientHello still needs a retry")
            return _send_hello_retry(ctx, message, choice.group)
        return _send_flight(ctx, offer, choice.group)


# Extensions that may change in a second ClientHello (s2n's exceptions to the RFC rule).
_MAY_CHANGE_AFTER_RETRY = frozenset({
    ExtensionType.KEY_SHARE, ExtensionType.COOKIE, ExtensionType.PRE_SHARED_KEY, ExtensionType.SUPPORTED_VERSIONS,
    ExtensionType.EARLY_DATA, ExtensionType.PADDING,
})  # fmt: skip
# s2n compares only extensions it knows.
_KNOWN_EXTENSIONS = frozenset(extension_type for extension_type, _ in CLIENT_HELLO_EXTENSIONS)


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
    for extension_type in (_KNOWN_EXTENSIONS if lenient else set(old) | set(new)) - _MAY_CHANGE_AFTER_RETRY:
        if old.get(extension_type) != new.get(extension_type):
            raise IllegalParameterError(f"second ClientHello changed extension {extension_type}")


def _in_order(bodies: dict[int, Struct], order: tuple[int, ...]) -> tuple[Extension, ...]:
    """The extensions that have a body, in the layout's order."""
    return tuple(Extension.of(kind, bodies[kind]) for kind in order if kind in bodies)


def _send_hello_retry(ctx: HandshakeContext, hello: ClientHello, group: int) -> State:
    ctx.transcript.replace_with_message_hash()
    layout = ctx.config.layout
    bodies: dict[int, Struct] = {
        ExtensionType.SUPPORTED_VERSIONS: SupportedVersionsServer(TLS13),
        ExtensionType.KEY_SHARE: KeyShareHelloRetryRequest(group),
    }
    if layout.hello_retry_cookie:
        bodies[ExtensionType.COOKIE] = Cookie(layout.hello_retry_cookie)
    extensions = _in_order(bodies, layout.hello_retry_extensions)
    retry = ServerHello(0x0303, HELLO_RETRY_REQUEST_RANDOM, hello.legacy_session_id, ctx.suite.code, 0, extensions)
    ctx.flags |= HandshakeFlags.HELLO_RETRY_REQUEST
    ctx.send(retry, "HELLO_RETRY_MSG")
    if hello.legacy_session_id:
        ctx.send_change_cipher_spec()
    return ExpectClientHello(first=hello, retry_group=group)


def _send_server_hello(ctx: HandshakeContext, offer: ClientOffer, group: int) -> None:
    random = ctx.random.draw(32, DrawKind.PUBLIC)
    key_share = generate_key_share(group, ctx.random)
    ctx.negotiated.group = group
    bodies: dict[int, Struct] = {
        ExtensionType.SUPPORTED_VERSIONS: SupportedVersionsServer(TLS13),
        ExtensionType.KEY_SHARE: KeyShareServerHello(KeyShareEntry(group, key_share.public)),
    }
    extensions = _in_order(bodies, ctx.config.layout.server_hello_extensions)
    hello = offer.hello
    ctx.send(ServerHello(0x0303, random, hello.legacy_session_id, ctx.suite.code, 0, extensions), "SERVER_HELLO")
    ctx.schedule = KeySchedule(ctx.suite.hash_name)
    ctx.derive_handshake_secrets(key_share.exchange(offer.shares[group]))


def _send_flight(ctx: HandshakeContext, offer: ClientOffer, group: int) -> State:
    policy = load_policy(ctx.config.policy)
    candidates = select_certificates(ctx.config.certificates, offer.server_name)
    scheme, certificate = select_signature(
        policy, offer.signature_schemes, candidates, fallback=ctx.config.compat.signature_fallback
    )
    ctx.negotiated.signature_scheme, ctx.negotiated.certificate = scheme, certificate
    ctx.flags |= HandshakeFlags.NEGOTIATED | HandshakeFlags.FULL_HANDSHAKE
    _send_server_hello(ctx, offer, group)
    if offer.hello.legacy_session_id:
        ctx.flags |= HandshakeFlags.MIDDLEBOX_COMPAT
        ctx.send_change_cipher_spec()
    ctx.use_handshake_keys(read=True, write=True)
    with ctx.one_record(ctx.config.layout.coalesce_server_flight):
        ctx.send(_encrypted_extensions(ctx, offer, candidates.name_matched), "ENCRYPTED_EXTENSIONS")
        entries = tuple(CertificateEntry(der, ()) for der in certificate.chain)
        ctx.send(Certificate(b"", entries), "SERVER_CERT")
        digest = certificate_verify_digest(scheme, ctx.transcript.digest(), server=True)
        signature = certificate.signer.sign_digest(SignatureScheme(scheme), digest, ctx.random)
        ctx.send(CertificateVerify(scheme, signature), "SERVER_CERT_VERIFY")
        ctx.send(Finished(ctx.finished_verify_data(ours=True)), "SERVER_FINISHED")
    ctx.derive_application_secrets()
    ctx.use_application_keys(read=False, write=True)
    return ExpectClientFinished()


class ExpectClientFinished(State):
    """Waiting for the client's Finished (its ChangeCipherSpec is dropped by the record layer)."""

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Check the client's Finished; then both directions use application keys."""
        message = expect(message, Finished)
        ctx.check_peer_finished(message.verify_data)
        ctx.received(raw, "CLIENT_FINISHED")
        ctx.use_application_keys(read=True, write=False)
        ctx.last_message = "APPLICATION_DATA"
        return Connected()
