"""Client-side checks: certificate validation and the HelloRetryRequest cookie."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography import x509

from engine.errors import BadCertificateError, IllegalParameterError
from engine.wire.extensions import (
    Cookie,
    Extension,
    ExtensionType,
    KeyShareHelloRetryRequest,
    SupportedVersionsServer,
    find_extension,
)
from engine.wire.handshake import (
    HELLO_RETRY_REQUEST_RANDOM,
    CertificateVerify,
    ClientHello,
    HandshakeType,
    ServerHello,
    decode_handshake,
    encode_handshake,
)
from tests.engine.lockstep import engine_connection
from tlsdiff.certs import certificate_for
from tlsdiff.harness import Role, Setup, engine_config, open_engine


def _handshake(client_trusts: str) -> None:
    setup = Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 1)
    anchor = x509.load_pem_x509_certificate(certificate_for(client_trusts).chain_pem)  # a leaf, not the CA
    client = open_engine(setup, config=replace(engine_config(setup), trust_anchors=(anchor,))).connection
    server = engine_connection("default_tls13", "ecdsa-p256", 1, client=False)
    client.start()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())


def test_untrusted_server_certificate_is_rejected() -> None:
    with pytest.raises(BadCertificateError):
        _handshake("rsa-2048")


def test_client_echoes_the_hello_retry_request_cookie() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.2
    # = type=test
    ## When sending the new ClientHello, the client MUST copy the contents of the extension received in the
    ## HelloRetryRequest into a "cookie" extension in the new ClientHello.
    client = engine_connection("default_tls13", "ecdsa-p256", 1, client=True)
    client.start()
    first = decode_handshake(client.data_to_send()[5:])
    assert isinstance(first, ClientHello)
    cookie = Extension.of(ExtensionType.COOKIE, Cookie(b"opaque server state"))
    retry = ServerHello(
        0x0303,
        HELLO_RETRY_REQUEST_RANDOM,
        first.legacy_session_id,
        0x1301,
        0,
        (
            Extension.of(ExtensionType.SUPPORTED_VERSIONS, SupportedVersionsServer(0x0304)),
            cookie,
            Extension.of(ExtensionType.KEY_SHARE, KeyShareHelloRetryRequest(0x001D)),
        ),
    )
    body = encode_handshake(retry)
    client.receive_data(bytes([22, 3, 3]) + len(body).to_bytes(2, "big") + body)
    sent = client.data_to_send()
    assert sent[:6] == bytes([20, 3, 3, 0, 1, 1])  # s2n's client sends its CCS right after the HRR
    second = decode_handshake(sent[6 + 5 :])
    assert isinstance(second, ClientHello)
    assert find_extension(second.extensions, ExtensionType.COOKIE) == cookie
    assert (second.random, second.legacy_session_id) == (first.random, first.legacy_session_id)
    types = [extension.extension_type for extension in second.extensions]
    assert types.index(ExtensionType.COOKIE) == types.index(ExtensionType.EXTENDED_MASTER_SECRET) - 1


@pytest.mark.parametrize("algorithm", [0xFFFF, 0x0201, 0x0807])
def test_certificate_verify_with_an_unusable_offered_scheme_is_a_tls_error(algorithm: int) -> None:
    # test_all_tls13 offers s2n's private 0xFFFF, RSA-SHA1 and Ed25519 schemes; none fits an ECDSA
    # P-256 certificate, and the answer must be an alert, never another exception. The server's
    # CertificateVerify is rewritten inside it, so the client's first objection is to that message.
    def unusable(msg_type: int, encoded: bytes) -> bytes:
        if msg_type != HandshakeType.CERTIFICATE_VERIFY:
            return encoded
        return encode_handshake(CertificateVerify(algorithm, bytes(64)))

    client = engine_connection("test_all_tls13", "ecdsa-p256", 1, client=True)
    server = engine_connection("test_all_tls13", "ecdsa-p256", 1, client=False, message_hook=unusable)
    client.start()
    server.receive_data(client.data_to_send())
    with pytest.raises(IllegalParameterError):
        client.receive_data(server.data_to_send())
    assert client.last_message_name == "SERVER_CERT_VERIFY"
