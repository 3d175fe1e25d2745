"""A second ServerHello without supported_versions, after a HelloRetryRequest: read as s2n-tls's client reads it.

s2n's client sets ``server_protocol_version`` from the HelloRetryRequest's supported_versions
(tls/extensions/s2n_server_supported_versions.c:88) and never resets it; the ServerHello's own
extension is optional to it (``s2n_extension_noop_if_missing``, line 49) and checked only when
present (lines 79-81), so tls/s2n_server_hello.c:177 reads the message as TLS 1.3 with every
other check unchanged (session id, cipher suite the same as the HelloRetryRequest's, key share).
``Compat.keep_hello_retry_version`` models it; RFC 8446 section 4.1.4 (the switch off) wants the
HelloRetryRequest's selected_version retained, and the engine refuses with protocol_version.

The actor is an engine server whose policy (``20250211``, P-384 only) forces a retry of the
clients' P-256 share; the targets are an s2n client and an engine client (tests/engine/lockstep.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.config import Compat
from engine.connection import ConnectionInfo, TLSConnection
from engine.errors import ProtocolVersionError
from engine.wire.extensions import ExtensionType
from engine.wire.handshake import HandshakeType, ServerHello, decode_handshake, encode_handshake
from tests.engine.lockstep import Verdict, engine_connection, engine_endpoint, lockstep
from tlsdiff.harness import Role, Setup, Status, endpoint_info, open_endpoint

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws

CLIENT_POLICY = "default_tls13"
SERVER_POLICY = "20250211"
CERT = "ecdsa-p384"
PROTOCOL_VERSION = bytes.fromhex("15030300020246")
_RECORD_HEADER = 5


def _without_versions(encoded: bytes) -> bytes:
    """A (non-retry) ServerHello message with its supported_versions extension left out; others as they are."""
    if encoded[0] != HandshakeType.SERVER_HELLO:
        return encoded
    hello = decode_handshake(encoded)
    if not isinstance(hello, ServerHello) or hello.is_hello_retry_request:
        return encoded
    kept = tuple(e for e in hello.extensions if e.extension_type != ExtensionType.SUPPORTED_VERSIONS)
    return encode_handshake(replace(hello, extensions=kept))


def _strip_on_the_wire(flight: int, data: bytes) -> bytes:
    """Flight 1 (after the second ClientHello) starts with the ServerHello record: cut it after the server hashed it."""
    if flight != 1:
        return data
    length = int.from_bytes(data[3:5], "big")
    message = _without_versions(data[_RECORD_HEADER : _RECORD_HEADER + length])
    record = data[:3] + len(message).to_bytes(2, "big") + message
    return record + data[_RECORD_HEADER + length :]


def _run(*, hook: bool, client_compat: Compat | None = None) -> tuple[Verdict, TLSConnection, dict[str, str]]:
    """Lockstep the retrying server against both clients; the s2n client's info as a dict of its names."""
    # With ``hook``, inside the server: its transcript holds the message as sent.
    actor = engine_endpoint(
        Setup(Role.SERVER, SERVER_POLICY, CERT, 7), message_hook=_hook_without_versions if hook else None
    )
    target = Setup(Role.CLIENT, CLIENT_POLICY, CERT, 7)
    engine_target = engine_endpoint(target, compat=client_compat)
    with open_endpoint(target, "s2n") as s2n_target:
        verdict = lockstep(actor, s2n_target, engine_target, mutate=None if hook else _strip_on_the_wire)
        info = endpoint_info(s2n_target)
    return verdict, engine_target.connection, _names(info)


def _hook_without_versions(msg_type: int, encoded: bytes) -> bytes:
    return _without_versions(encoded)


def _names(info: ConnectionInfo) -> dict[str, str]:
    """What was negotiated and where the state machine stands, as s2n names them."""
    fields = ("protocol", "cipher", "group", "handshake_type", "last_message")
    return {name: str(getattr(info, name)) for name in fields}


def test_both_clients_complete_when_the_server_hashed_the_short_server_hello() -> None:
    verdict, engine_target, s2n_names = _run(hook=True)
    assert not verdict.s2n.ended and not verdict.engine.ended, verdict
    assert verdict.s2n.output == verdict.engine.output
    assert engine_target.handshake_complete
    assert s2n_names == _names(engine_target.info())
    assert s2n_names["last_message"] == "APPLICATION_DATA"
    assert "HELLO_RETRY_REQUEST" in s2n_names["handshake_type"] and s2n_names["protocol"] == "TLSv1.3"


def test_both_clients_fail_decrypting_when_it_was_cut_after_the_server_hashed_it() -> None:
    # The clients' transcripts lack the 6 bytes the server's has: the handshake keys differ, and the
    # first protected record (EncryptedExtensions) does not open (S2N_ERR_DECRYPT, bad_record_mac);
    # both answer with s2n's generic close_notify.
    verdict, engine_target, s2n_names = _run(hook=False)
    assert verdict.flights == 1 and verdict.s2n.status is verdict.engine.status is Status.FAILED, verdict
    assert (verdict.s2n.error, verdict.engine.error) == ("S2N_ERR_DECRYPT", "BadRecordMacError")
    assert verdict.s2n.output == verdict.engine.output
    assert s2n_names["last_message"] == engine_target.last_message_name == "ENCRYPTED_EXTENSIONS"


@pytest.mark.parametrize("compat", [Compat.rfc(), replace(Compat.s2n(), keep_hello_retry_version=False)],
                         ids=["rfc", "s2n-but-this-switch"])  # fmt: skip
def test_rfc_reading_refuses_with_protocol_version(compat: Compat) -> None:
    # Without the extension the ServerHello negotiates no TLS 1.3 (RFC 8446 4.2.1), which a TLS 1.3-only
    # client refuses; protocol_version is the one alert s2n's generic close_notify leaves as itself.
    verdict, engine_target, _ = _run(hook=True, client_compat=compat)
    assert verdict.flights == 1 and verdict.engine.status is Status.FAILED and not verdict.s2n.ended, verdict
    assert verdict.engine.error == ProtocolVersionError.__name__
    assert isinstance(engine_target.error, ProtocolVersionError)
    assert verdict.engine.output == PROTOCOL_VERSION
    assert engine_target.last_message_name == "SERVER_HELLO"


def test_a_first_server_hello_without_supported_versions_is_still_refused() -> None:
    # Without a HelloRetryRequest there is no version to keep: s2n reads the legacy_version (TLS 1.2,
    # tls/s2n_server_hello.c:199), which the engine does not implement (the unsupported tier).
    actor = engine_connection("default_tls13", CERT, 7, client=False, message_hook=_hook_without_versions)
    client = engine_connection(CLIENT_POLICY, CERT, 7, client=True)
    client.start()
    actor.receive_data(client.data_to_send())
    with pytest.raises(ProtocolVersionError):
        client.receive_data(actor.data_to_send())
