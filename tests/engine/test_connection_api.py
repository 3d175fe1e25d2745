"""The connection's contract: roles, configuration errors, end of stream, info(), the sticky error state.

See the module docstring of engine/connection.py; info() is held to s2n's own answers
(``s2n_bridge.info.ConnectionInfo``) on the same handshake.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from engine.config import CertifiedKey, EngineConfig, MessageLayout
from engine.connection import AlertReceived, ConnectionClosed, DataReceived, HandshakeComplete, TLSConnection
from engine.crypto.signer import KeySigner, SignatureScheme, SigningError
from engine.errors import (
    ConfigurationError,
    IllegalParameterError,
    InternalError,
    TLSError,
    UnexpectedEOFError,
    UnexpectedMessageError,
)
from engine.policies import OPENSSL_3, client_hello_offer, policy
from engine.randomness import RandomSource
from tests.engine.lockstep import engine_connection, handshake
from tlsdiff.harness import Role, Setup, Status, endpoint_info, engine_config, open_endpoint, open_engine

POLICY = "default_tls13"
CLOSE_NOTIFY_TLS10 = bytes.fromhex("15030100020100")
CLOSE_NOTIFY_TLS12 = bytes.fromhex("15030300020100")


def _pair(seed: int = 1) -> tuple[TLSConnection, TLSConnection]:
    return engine_connection(POLICY, "ecdsa-p256", seed, client=True), engine_connection(
        POLICY, "ecdsa-p256", seed, client=False
    )


def _handshake(client: TLSConnection, server: TLSConnection) -> None:
    client.start()
    for _ in range(8):
        if data := client.data_to_send():
            server.receive_data(data)
        if data := server.data_to_send():
            client.receive_data(data)
        if client.handshake_complete and server.handshake_complete:
            return
    raise AssertionError("the handshake did not finish")


def _server_certificate() -> CertifiedKey:
    return engine_config(Setup(Role.SERVER, POLICY, "ecdsa-p256", 1)).certificates[0]


# ---- 1. roles ----


def test_a_client_that_receives_data_before_start_refuses_it() -> None:
    client, _ = _pair()
    hello_from_another_client = engine_connection(POLICY, "ecdsa-p256", 2, client=True)
    hello_from_another_client.start()
    # A ClientHello would make server code answer with a ServerHello; a client refuses anything.
    with pytest.raises(UnexpectedMessageError) as refused:
        client.receive_data(hello_from_another_client.data_to_send())
    assert client.data_to_send() == CLOSE_NOTIFY_TLS10  # s2n's generic alert, nothing from server code
    assert client.error is refused.value
    with pytest.raises(UnexpectedMessageError) as again:
        client.start()
    assert again.value is refused.value


def test_start_is_idempotent_and_a_no_op_for_servers() -> None:
    client, server = _pair()
    client.start()
    hello = client.data_to_send()
    client.start()
    assert client.data_to_send() == b""
    server.start()
    assert server.data_to_send() == b""
    server.receive_data(hello)
    assert server.data_to_send().startswith(b"\x16\x03\x03")  # the ServerHello


# ---- 2. configuration errors ----


def _self_signed(private_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private_key.public_key())
    builder = builder.serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
    algorithm = None if isinstance(private_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(private_key, algorithm).public_bytes(Encoding.DER)


class _NoSigner:
    pass


def _configs() -> dict[str, Callable[[], object]]:
    served = _server_certificate()
    other_key = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    k1_key = ec.generate_private_key(ec.SECP256K1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return {
        "unknown policy": lambda: EngineConfig("no_such_policy"),
        "policy without TLS 1.3": lambda: EngineConfig("default_fips_tls12_only"),
        "unknown policy via replace": lambda: dataclasses.replace(EngineConfig(), policy="nope"),
        "empty chain": lambda: EngineConfig(certificates=(CertifiedKey((), served.signer),)),
        "leaf does not parse": lambda: EngineConfig(certificates=(CertifiedKey((b"\x30\x00",), served.signer),)),
        "intermediate does not parse": lambda: EngineConfig(
            certificates=(CertifiedKey((*served.chain, b"junk"), served.signer),)
        ),
        "signer for another key": lambda: EngineConfig(certificates=(CertifiedKey(served.chain, other_key),)),
        "not a signer": lambda: EngineConfig(certificates=(CertifiedKey(served.chain, _NoSigner()),)),  # type: ignore[arg-type]
        "secp256k1 key": lambda: EngineConfig(
            certificates=(CertifiedKey((_self_signed(k1_key),), KeySigner(k1_key)),)
        ),
        "ed25519 key": lambda: EngineConfig(certificates=(CertifiedKey((_self_signed(ed_key),), served.signer),)),
        "zero record size": lambda: EngineConfig(max_record_plaintext=0),
        "record size over 2^14": lambda: EngineConfig(max_record_plaintext=2**14 + 1),
        "empty ALPN name": lambda: EngineConfig(alpn=(b"",)),
        "ALPN name of 256 bytes": lambda: EngineConfig(alpn=(bytes(256),)),
        "extension body too long": lambda: EngineConfig(layout=MessageLayout(extension_bodies=((7, bytes(2**16)),))),
        "server without certificates": lambda: TLSConnection(EngineConfig(), client=False),
        "empty server name": lambda: TLSConnection(EngineConfig(), client=True, server_name=""),
        "non-ASCII server name": lambda: TLSConnection(EngineConfig(), client=True, server_name="bücher.example"),
        "server name over 255": lambda: TLSConnection(EngineConfig(), client=True, server_name="a" * 256),
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(_configs()))
def test_unusable_configuration_is_refused_when_built(case: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        _configs()[case]()
    assert not isinstance(refused.value, TLSError)  # not peer input: nothing goes on the wire


def test_a_good_configuration_is_accepted() -> None:
    served = _server_certificate()
    EngineConfig("DEFAULT_TLS13", certificates=(served,), alpn=(b"h2", b"x" * 255), max_record_plaintext=2**14)
    TLSConnection(EngineConfig(certificates=(served,)), client=False)
    TLSConnection(EngineConfig(), client=True, server_name="a" * 255)


def test_a_signer_that_cannot_sign_is_an_internal_error_not_a_value_error() -> None:
    served = _server_certificate()

    class Failing:
        def sign_digest(self, scheme: SignatureScheme, digest: bytes, random: RandomSource) -> bytes:
            raise SigningError("the HSM is gone")

    server = TLSConnection(EngineConfig(certificates=(CertifiedKey(served.chain, Failing()),)), client=False)
    client = engine_connection(POLICY, "ecdsa-p256", 1, client=True)
    client.start()
    with pytest.raises(InternalError):
        server.receive_data(client.data_to_send())


def test_an_unknown_policy_no_longer_fails_inside_receive_data() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert not issubclass(ConfigurationError, TLSError)
    with pytest.raises(ConfigurationError, match="no_such_policy"):
        EngineConfig("no_such_policy")


# ---- 3. end of stream ----


def test_eof_before_any_byte_is_an_unexpected_eof_without_an_alert() -> None:
    _, server = _pair()
    with pytest.raises(UnexpectedEOFError) as eof:
        server.receive_data(b"")
    assert server.data_to_send() == b""  # s2n writes nothing on EOF
    assert not eof.value.sends_alert
    with pytest.raises(UnexpectedEOFError) as again:
        server.receive_data(b"")
    assert again.value is eof.value


def test_eof_in_the_middle_of_the_handshake() -> None:
    client, server = _pair()
    client.start()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send()[:100])  # part of the server's flight, then the transport ends
    with pytest.raises(UnexpectedEOFError, match="during the handshake"):
        client.receive_data(b"")
    assert client.data_to_send() == b""
    with pytest.raises(UnexpectedEOFError):
        client.send(b"too late")


def test_eof_after_the_handshake_without_close_notify_is_a_truncation() -> None:
    client, server = _pair()
    _handshake(client, server)
    server.send(b"partial")
    assert client.receive_data(server.data_to_send()) == [DataReceived(b"partial")]
    with pytest.raises(UnexpectedEOFError, match="truncation"):
        client.receive_data(b"")
    assert client.data_to_send() == b""


def test_eof_after_close_notify_is_a_no_op() -> None:
    client, server = _pair()
    _handshake(client, server)
    server.close()
    assert client.receive_data(server.data_to_send()) == [ConnectionClosed()]
    assert client.receive_data(b"") == []
    assert client.receive_data(b"") == []
    client.close()  # the answer to the peer's close_notify still goes out
    assert len(client.data_to_send()) == 5 + 2 + 1 + 16
    assert client.error is None


# ---- 4. info() ----


def _s2n_reference(policy_name: str, cert_type: str, seed: int, *, engine_is_client: bool) -> dict[str, object]:
    """What s2n reports, on the side the engine plays, in an s2n<->s2n handshake of the same seed."""
    with (
        open_endpoint(Setup(Role.CLIENT, policy_name, cert_type, seed), "s2n") as client,
        open_endpoint(Setup(Role.SERVER, policy_name, cert_type, seed), "s2n") as server,
    ):
        assert [outcome.status for outcome in handshake(client, server)] == [Status.COMPLETE] * 2
        return dataclasses.asdict(endpoint_info(client if engine_is_client else server))


@pytest.mark.openssl_engine
@pytest.mark.parametrize(("cert_type", "engine_is_client"), [("ecdsa-p256", True), ("rsa-pss-2048", False)])
def test_info_matches_what_s2n_reports(cert_type: str, engine_is_client: bool) -> None:
    seed = 6
    engine_role, s2n_role = (Role.CLIENT, Role.SERVER) if engine_is_client else (Role.SERVER, Role.CLIENT)
    engine = open_engine(Setup(engine_role, POLICY, cert_type, seed))
    with open_endpoint(Setup(s2n_role, POLICY, cert_type, seed), "s2n") as s2n:
        client, server = (engine, s2n) if engine_is_client else (s2n, engine)
        assert [outcome.status for outcome in handshake(client, server)] == [Status.COMPLETE] * 2
    reference = _s2n_reference(POLICY, cert_type, seed, engine_is_client=engine_is_client)
    info = engine.connection.info()
    assert dataclasses.asdict(info) == reference
    assert info.protocol == "TLSv1.3" and info.signature_scheme != "NONE"


def test_info_before_and_after_the_handshake_between_engines() -> None:
    client = open_engine(Setup(Role.CLIENT, POLICY, "ecdsa-p256", 1, alpn=("http/1.1", "h2"))).connection
    server = open_engine(Setup(Role.SERVER, POLICY, "ecdsa-p256", 1, alpn=("h2",))).connection
    before = client.info()
    assert (before.protocol, before.cipher, before.group, before.signature_scheme) == ("NONE",) * 4
    assert (before.handshake_type, before.alpn, before.wire_bytes_in, before.wire_bytes_out) == ("INITIAL", None, 0, 0)
    assert before.server_name == "localhost"
    _handshake(client, server)
    for side in (client.info(), server.info()):
        assert (side.protocol, side.cipher, side.group) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256", "secp256r1")
        assert (side.signature_scheme, side.alpn, side.server_name) == ("ecdsa_secp256r1_sha256", "h2", "localhost")
        assert side.handshake_type == "NEGOTIATED|FULL_HANDSHAKE|MIDDLEBOX_COMPAT"
        assert side.last_message == "APPLICATION_DATA"
    assert client.info().wire_bytes_out == server.info().wire_bytes_in > 0
    assert server.info().wire_bytes_out == client.info().wire_bytes_in > 0


# ---- 5. the sticky error state, from every verb ----


def test_an_error_from_start_is_sticky() -> None:
    # A layout offering a key share for a group the engine cannot generate: start() itself fails.
    offer = client_hello_offer(policy(POLICY), OPENSSL_3, server_name=True)
    layout = MessageLayout(client_hello=dataclasses.replace(offer, key_share_groups=(0x1234,)))
    client = TLSConnection(EngineConfig(layout=layout), client=True, server_name="localhost")
    with pytest.raises(IllegalParameterError) as failed:
        client.start()
    assert client.data_to_send() == CLOSE_NOTIFY_TLS10
    _assert_sticky(client, failed.value)


def test_an_error_from_send_or_key_update_before_the_handshake_is_sticky() -> None:
    for verb in ("send", "key_update"):
        client, _ = _pair()
        client.start()
        client.data_to_send()
        with pytest.raises(InternalError) as failed:
            client.send(b"early") if verb == "send" else client.key_update()
        assert client.data_to_send() == CLOSE_NOTIFY_TLS12
        _assert_sticky(client, failed.value)


def test_a_receive_error_is_sticky_and_the_alert_is_still_handed_out() -> None:
    _, server = _pair()
    with pytest.raises(UnexpectedMessageError) as failed:
        server.receive_data(bytes([0x18, 3, 3, 0, 1, 0]))
    assert server.data_to_send() == CLOSE_NOTIFY_TLS10
    _assert_sticky(server, failed.value)
    assert server.info().wire_bytes_out == len(CLOSE_NOTIFY_TLS10)


def test_a_peer_alert_ends_the_connection() -> None:
    _, server = _pair()
    fatal = bytes([21, 3, 1, 0, 2, 2, 40])
    assert server.receive_data(fatal + bytes([0x18, 3, 3, 0, 1, 0])) == [AlertReceived(40)]  # the rest is not read
    assert server.error is not None
    _assert_sticky(server, server.error)


def _assert_sticky(connection: TLSConnection, error: TLSError) -> None:
    """Every verb now raises ``error`` itself; nothing more is queued."""
    verbs: list[Callable[[], object]] = [
        connection.start,
        lambda: connection.receive_data(b"\x16\x03\x03\x00\x01\x01"),
        lambda: connection.receive_data(b""),
        lambda: connection.send(b"x"),
        connection.key_update,
        connection.close,
    ]
    for verb in verbs:
        with pytest.raises(TLSError) as raised:
            verb()
        assert raised.value is error
    assert connection.error is error
    assert connection.data_to_send() == b""
    connection.info()  # still answers


def test_close_sends_close_notify_once() -> None:
    client, server = _pair()
    _handshake(client, server)
    client.close()
    client.close()
    assert server.receive_data(client.data_to_send()) == [ConnectionClosed()]


def test_handshake_events() -> None:
    client, server = _pair()
    client.start()
    server.receive_data(client.data_to_send())
    assert client.receive_data(server.data_to_send()) == [HandshakeComplete()]
    assert server.receive_data(client.data_to_send()) == [HandshakeComplete()]


@pytest.mark.parametrize("module", ["engine.instrument", "engine.config", "engine.crypto.key_exchange",
                                    "engine.handshake.client_offer"])  # fmt: skip
def test_doctests(module: str) -> None:
    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0
