"""The engine as a library: package exports, connect/accept over loopback, info(), hostname and IP checks."""

from __future__ import annotations

import datetime
import doctest
import importlib
import ipaddress
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

import engine
import s2n_bridge.info
from engine import (
    CertifiedKey,
    EngineConfig,
    EngineError,
    TLSConnection,
    TLSError,
    TLSSocket,
    accept,
    connect,
)
from engine.crypto.signer import KeySigner
from engine.errors import CertificateUnknownError
from engine.randomness import SeededRandomSource, StreamLabel
from engine.wire.extensions import ExtensionType
from engine.wire.handshake import ClientHello, decode_handshake
from tests.engine.socket_peers import Peer, client_config, loopback, port_of, server_config
from tlsdiff.scenario import run_pair
from tlsdiff.transcript import split_records


def test_the_package_exports_the_main_names() -> None:
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    assert {"TLSConnection", "connect", "accept", "PeerAlertError", "load_certified_key", "KeyLogFile"} <= set(
        engine.__all__
    )
    assert "connect(" in (engine.__doc__ or "") and "accept(" in (engine.__doc__ or "")
    with pytest.raises(AttributeError):
        _ = engine.no_such_name


@pytest.mark.parametrize("module", ["engine", "engine.errors", "engine.keylog", "engine.pem", "engine.socket_api"])
def test_doctests(module: str) -> None:
    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_import_engine_stays_cheap() -> None:
    # The fuzz targets import engine submodules under instrumentation: the package must not pull in the rest.
    code = "import sys, engine, engine.wire.reader; print(sorted(m for m in sys.modules if m.startswith('engine')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "engine.connection" not in loaded and "engine.socket_api" not in loaded


def test_the_exception_family() -> None:
    assert issubclass(engine.TLSError, EngineError) and issubclass(engine.TransportError, EngineError)
    assert issubclass(engine.TLSTimeoutError, engine.TransportError)
    assert issubclass(engine.PeerAlertError, TLSError)
    assert issubclass(engine.ConfigurationError, EngineError) and issubclass(engine.ConfigurationError, ValueError)


def _echo_once(tls: TLSSocket) -> engine.ConnectionInfo:
    with tls:
        tls.sendall(tls.recv_available())
        return tls.info()


def test_connect_and_accept_echo_and_report_what_was_negotiated(tmp_path: Path) -> None:
    with loopback() as listener:
        config = server_config(tmp_path, alpn=(b"h2", b"http/1.1"))
        with Peer(lambda: _echo_once(accept(listener, config, timeout=10))) as server:
            client = EngineConfig(trust_anchors=client_config(tmp_path).trust_anchors, alpn=(b"http/1.1",))
            with connect("localhost", port_of(listener), client, timeout=10) as tls:
                tls.sendall(b"ping")
                assert tls.recv(4) == b"ping"
                info = tls.info()
            served = server.result()
    assert (info.protocol, info.cipher, info.group) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256", "secp256r1")
    assert info.signature_scheme == "ecdsa_secp256r1_sha256"
    assert info.alpn == "http/1.1" and info.server_name == "localhost"
    assert info.handshake_type == "NEGOTIATED|FULL_HANDSHAKE|MIDDLEBOX_COMPAT" and not info.hello_retry
    assert served.server_name == "localhost" and served.alpn == "http/1.1"


def test_info_reports_a_hello_retry(tmp_path: Path) -> None:
    # The server's policy takes only P-384: the client's P-256 share is refused (tests/engine/test_four_way.py).
    with loopback() as listener:
        config = server_config(tmp_path, "ecdsa-p384", policy="20250211")
        with Peer(lambda: _echo_once(accept(listener, config, timeout=10))) as server:
            with connect("localhost", port_of(listener), client_config(tmp_path, "ecdsa-p384"), timeout=10) as tls:
                tls.sendall(b"x")
                assert tls.recv_available() == b"x"
                info = tls.info()
            served = server.result()
    assert info.hello_retry and served.hello_retry
    assert "HELLO_RETRY_REQUEST" in info.handshake_type and info.group == "secp384r1"


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def test_s2n_reports_hello_retry_through_the_same_class() -> None:
    # tlsdiff compares the engine's ConnectionInfo with s2n's: s2n_bridge uses the engine's class itself.
    assert s2n_bridge.info.ConnectionInfo is engine.ConnectionInfo
    retried = run_pair("s2n", "s2n", "default_tls13", "ecdsa-p384", 5, server_policy="20250211")
    plain = run_pair("s2n", "s2n", "default_tls13", "ecdsa-p384", 5)
    assert retried.client.hello_retry and retried.server.hello_retry
    assert not plain.client.hello_retry and not plain.server.hello_retry


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )


def _ip_only_certificate(address: str) -> tuple[CertifiedKey, x509.Certificate]:
    """A CA and a leaf it issued whose only name is an iPAddress SAN (its CN is not the address)."""
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        _certificate("ip test CA", ca_key, None, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        _certificate("ip-only test server", leaf_key, ca, ca_key)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return CertifiedKey((leaf.public_bytes(Encoding.DER),), KeySigner(leaf_key)), ca


def _client_hello_of(tls: TLSSocket) -> ClientHello:
    assert tls.wire is not None
    first = split_records(tls.wire)[0]
    hello = decode_handshake(first.data[5:])
    assert isinstance(hello, ClientHello)
    return hello


def _accept_recording(listener: socket.socket, config: EngineConfig) -> tuple[ClientHello, engine.ConnectionInfo]:
    """A server over a TLSSocket that records the wire, to look at the ClientHello as it came."""
    sock, _ = listener.accept()
    with TLSSocket(sock, TLSConnection(config, client=False), timeout=10, record_wire=True) as tls:
        tls.do_handshake()
        info = _echo_once(tls)
        return _client_hello_of(tls), info


def _sni_of(hello: ClientHello) -> list[int]:
    return [ext.extension_type for ext in hello.extensions if ext.extension_type == ExtensionType.SERVER_NAME]


def test_an_ip_literal_is_verified_against_an_ip_san_and_not_sent_as_sni() -> None:
    certified, certificate = _ip_only_certificate("127.0.0.1")
    server = EngineConfig(certificates=(certified,))
    with loopback() as listener, Peer(lambda: _accept_recording(listener, server)) as peer:
        with connect("127.0.0.1", port_of(listener), EngineConfig(trust_anchors=(certificate,)), timeout=10) as tls:
            tls.sendall(b"over an IP")
            assert tls.recv_available() == b"over an IP"
            assert tls.info().server_name is None
        hello, served = peer.result()
    assert _sni_of(hello) == [] and served.server_name is None


def test_a_dns_name_is_both_sni_and_the_verified_name(tmp_path: Path) -> None:
    with loopback() as listener:
        config = server_config(tmp_path)
        with Peer(lambda: _accept_recording(listener, config)) as peer:
            with connect("127.0.0.1", port_of(listener), client_config(tmp_path), server_name="localhost") as tls:
                tls.sendall(b"by name")
                assert tls.recv_available() == b"by name"
            hello, served = peer.result()
    assert _sni_of(hello) == [ExtensionType.SERVER_NAME] and served.server_name == "localhost"


def test_a_name_the_certificate_lacks_is_refused(tmp_path: Path) -> None:
    certified, certificate = _ip_only_certificate("127.0.0.2")  # not the address the client dials
    server = EngineConfig(certificates=(certified,))
    with loopback() as listener, Peer(lambda: accept(listener, server, timeout=10)) as peer:
        with pytest.raises(CertificateUnknownError):  # as s2n's S2N_ERR_CERT_INVALID_HOSTNAME
            connect("127.0.0.1", port_of(listener), EngineConfig(trust_anchors=(certificate,)), timeout=10)
        with pytest.raises(EngineError):  # s2n's way (default Compat): close_notify, not bad_certificate
            peer.result()


def test_verify_name_leaves_the_client_hello_as_it_was() -> None:
    # The fuzz harness compares the engine with s2n byte for byte: a name to verify changes no byte.
    config = EngineConfig(trust_anchors=())

    def first_flight(server_name: str | None = None, verify_name: str | None = None) -> bytes:
        random = SeededRandomSource(7, StreamLabel.CLIENT)
        connection = TLSConnection(config, client=True, random=random, server_name=server_name, verify_name=verify_name)
        connection.start()
        return connection.data_to_send()

    assert first_flight(server_name="localhost") == first_flight(server_name="localhost", verify_name="127.0.0.1")
    # As s2n does (s2n_set_server_name takes any string), a server_name that is an IP literal is still sent.
    assert b"127.0.0.1" in first_flight(server_name="127.0.0.1")
    assert b"127.0.0.1" not in first_flight(verify_name="127.0.0.1")
