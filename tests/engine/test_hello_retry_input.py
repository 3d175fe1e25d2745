"""The second ClientHello, after a HelloRetryRequest: the engine rejects (or accepts) it exactly as s2n-tls does.

s2n reads it in ``s2n_parse_client_hello`` / ``s2n_process_client_hello``
(tls/s2n_client_hello.c): first compared with the first ClientHello
(``s2n_client_hello_verify_for_retry``), then supported_versions
(tls/extensions/s2n_client_supported_versions.c), key shares
(tls/extensions/s2n_client_key_share.c, exactly one after a retry), the cipher suite
(chosen again; it must not change) and, while the ServerHello is written, the key
share it answers (tls/extensions/s2n_server_key_share.c).

Two servers force the retry for an engine client under ``default_tls13`` (one P-256
key share): ``20250211`` accepts only P-384 and TLS 1.3; ``20251113`` accepts P-256 but
strongly prefers P-384, and accepts TLS 1.2. The client's second ClientHello is mutated
inside the client (``Instrumentation.message_hook``), so its own transcript holds the
mutated bytes and an accepted mutation completes the handshake. Every case runs in
lockstep (tests/engine/lockstep.py) against an s2n server and an engine server: same
flight rejected with the same alert bytes, or the same answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import Compat
from engine.crypto.key_exchange import generate_key_share
from engine.errors import InternalError, TLSError
from engine.randomness import SeededRandomSource, StreamLabel
from engine.wire.extensions import (
    Extension,
    ExtensionType,
    KeyShareClientHello,
    KeyShareEntry,
    SupportedVersionsClient,
)
from engine.wire.handshake import ClientHello, HandshakeType, decode_handshake, encode_handshake
from tests.engine.lockstep import Verdict, engine_connection, engine_endpoint, run_lockstep
from tlsdiff.harness import Role, Setup, Status

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws

CLIENT_POLICY = "default_tls13"
# server policy -> the certificate it serves
SERVERS = {"20250211": "ecdsa-p384", "20251113": "rsa-2048"}
CLOSE_NOTIFY = bytes.fromhex("15030300020100")
PROTOCOL_VERSION_AS_TLS10 = bytes.fromhex("15030100020246")  # s2n forgot the version: a TLS 1.0 record
PROTOCOL_VERSION = bytes.fromhex("15030300020246")
SECP256R1, SECP384R1, X25519 = 0x0017, 0x0018, 0x001D

Edit = Callable[[ClientHello], ClientHello | bytes]
HelloEdit = Callable[[ClientHello], ClientHello]


def _share(group: int) -> bytes:
    return generate_key_share(group, SeededRandomSource(99, StreamLabel.CLIENT)).public


def _key_shares(*entries: tuple[int, bytes]) -> bytes:
    return KeyShareClientHello(tuple(KeyShareEntry(group, share) for group, share in entries)).encode()


def _without(extension_type: int) -> HelloEdit:
    def edit(hello: ClientHello) -> ClientHello:
        return replace(hello, extensions=tuple(e for e in hello.extensions if e.extension_type != extension_type))

    return edit


def _with(extension_type: int, data: bytes) -> HelloEdit:
    """Replace the extension's body in place, or append the extension."""

    def edit(hello: ClientHello) -> ClientHello:
        new = Extension(extension_type, data)
        extensions = [e if e.extension_type != extension_type else new for e in hello.extensions]
        if all(e.extension_type != extension_type for e in hello.extensions):
            extensions.append(Extension(extension_type, data))
        return replace(hello, extensions=tuple(extensions))

    return edit


def _legacy_tls10(hello: ClientHello) -> ClientHello:
    return replace(hello, legacy_version=0x0301)


def _second_hello_hook(edit: Edit) -> Callable[[int, bytes], bytes]:
    """A message hook that rewrites the client's second ClientHello (the first goes out as it is)."""
    hellos = 0

    def hook(msg_type: int, encoded: bytes) -> bytes:
        nonlocal hellos
        if msg_type != HandshakeType.CLIENT_HELLO:
            return encoded
        hellos += 1
        if hellos == 1:
            return encoded
        hello = decode_handshake(encoded)
        assert isinstance(hello, ClientHello)
        edited = edit(hello)
        return edited if isinstance(edited, bytes) else encode_handshake(edited)

    return hook


def _retry_case(server_policy: str, edit: Edit, *, actor_compat: Compat | None = None) -> Verdict:
    cert_type = SERVERS[server_policy]
    actor_setup = Setup(Role.CLIENT, CLIENT_POLICY, cert_type, 3)
    actor = engine_endpoint(actor_setup, compat=actor_compat, message_hook=_second_hello_hook(edit))
    return run_lockstep(actor, Setup(Role.SERVER, server_policy, cert_type, 3))


def _assert_same(verdict: Verdict) -> None:
    assert verdict.s2n.status == verdict.engine.status, verdict
    assert verdict.s2n.output == verdict.engine.output, verdict


# (case, edit, {server policy: the alert both write, or None when both answer alike})
REJECTED_ALIKE = CLOSE_NOTIFY
CASES: list[tuple[str, Edit, dict[str, bytes | None]]] = [
    ("unchanged", lambda hello: hello, {"20250211": None, "20251113": None}),
    # The cipher suite must not change (RFC 8446 4.1.4). It was an internal error (the transcript
    # hash changing) before; now both say BAD_MESSAGE / illegal_parameter with a close_notify.
    ("other suite, other hash", lambda hello: replace(hello, cipher_suites=(0x1301,)), {"20251113": CLOSE_NOTIFY}),
    ("suite not in the policy", lambda hello: replace(hello, cipher_suites=(0x1303,)), {"20250211": CLOSE_NOTIFY}),
    ("suites reordered", lambda hello: replace(hello, cipher_suites=(0x1301, 0x1302)), {"20251113": None}),
    ("key_share with two entries", _with(ExtensionType.KEY_SHARE, _key_shares((SECP256R1, _share(SECP256R1)),
                                                                              (SECP384R1, _share(SECP384R1)))),
     {"20250211": CLOSE_NOTIFY, "20251113": CLOSE_NOTIFY}),
    ("key_share repeated", _with(ExtensionType.KEY_SHARE, _key_shares((SECP384R1, _share(SECP384R1)),
                                                                      (SECP384R1, _share(SECP384R1)))),
     {"20251113": CLOSE_NOTIFY}),
    ("key_share empty list", _with(ExtensionType.KEY_SHARE, _key_shares()), {"20250211": CLOSE_NOTIFY}),
    ("key_share of another group", _with(ExtensionType.KEY_SHARE, _key_shares((X25519, _share(X25519)))),
     {"20250211": CLOSE_NOTIFY, "20251113": CLOSE_NOTIFY}),
    ("key_share not on the curve", _with(ExtensionType.KEY_SHARE, _key_shares((SECP384R1, b"\x04" + bytes(96)))),
     {"20250211": CLOSE_NOTIFY}),
    ("key_share too short", _with(ExtensionType.KEY_SHARE, _key_shares((SECP384R1, b"\x04" + bytes(10)))),
     {"20251113": CLOSE_NOTIFY}),
    ("key_share garbage", _with(ExtensionType.KEY_SHARE, b"\x00\x05abc"), {"20250211": CLOSE_NOTIFY}),
    ("key_share empty body", _with(ExtensionType.KEY_SHARE, b""), {"20251113": CLOSE_NOTIFY}),
    ("supported_versions only TLS 1.2", _with(ExtensionType.SUPPORTED_VERSIONS,
                                              SupportedVersionsClient((0x0303,)).encode()),
     {"20250211": PROTOCOL_VERSION_AS_TLS10, "20251113": CLOSE_NOTIFY}),
    ("supported_versions malformed", _with(ExtensionType.SUPPORTED_VERSIONS, b"\x05\x03"),
     {"20250211": PROTOCOL_VERSION_AS_TLS10, "20251113": PROTOCOL_VERSION_AS_TLS10}),
    ("supported_versions empty body", _with(ExtensionType.SUPPORTED_VERSIONS, b""),
     {"20251113": PROTOCOL_VERSION_AS_TLS10}),
    ("supported_versions only unknown", _with(ExtensionType.SUPPORTED_VERSIONS, b"\x02\x03\x05"),
     {"20250211": PROTOCOL_VERSION_AS_TLS10}),
    ("supported_versions TLS 1.3 and junk", _with(ExtensionType.SUPPORTED_VERSIONS, b"\x04\x03\x04\x7f\x1c"),
     {"20251113": None}),
    ("no supported_versions", _without(ExtensionType.SUPPORTED_VERSIONS),
     {"20250211": PROTOCOL_VERSION, "20251113": None}),
    ("no supported_versions, legacy TLS 1.0",
     lambda hello: _legacy_tls10(_without(ExtensionType.SUPPORTED_VERSIONS)(hello)),
     {"20251113": CLOSE_NOTIFY}),
    ("no supported_groups", _without(ExtensionType.SUPPORTED_GROUPS), {"20250211": CLOSE_NOTIFY}),
    ("no signature_algorithms", _without(ExtensionType.SIGNATURE_ALGORITHMS), {"20251113": CLOSE_NOTIFY}),
    ("server_name changed", _with(ExtensionType.SERVER_NAME, b"\x00\x0c\x00\x00\x09localhos2"),
     {"20250211": CLOSE_NOTIFY}),
    ("extended_master_secret dropped (empty: s2n sees no change)", _without(23), {"20250211": None}),
    ("empty extension added (s2n sees no change)", _with(18, b""), {"20251113": None}),
    ("status_request added", _with(5, b"\x01\x00\x00\x00\x00"), {"20250211": CLOSE_NOTIFY}),
    ("certificate_authorities added", _with(47, b"\x00\x00"), {"20251113": CLOSE_NOTIFY}),
    ("unknown extension added", _with(0x7777, b"x"), {"20250211": None}),
    ("cookie the server never sent", _with(ExtensionType.COOKIE, b"\x00\x01\x00"), {"20251113": CLOSE_NOTIFY}),
    ("early_data", _with(ExtensionType.EARLY_DATA, b""), {"20250211": CLOSE_NOTIFY}),
    ("compression changed", lambda hello: replace(hello, legacy_compression_methods=b"\x01\x00"),
     {"20251113": CLOSE_NOTIFY}),
    ("legacy_version changed", lambda hello: replace(hello, legacy_version=0x0301), {"20250211": CLOSE_NOTIFY}),
    ("random changed (s2n does not compare it)", lambda hello: replace(hello, random=bytes(32)), {"20251113": None}),
    ("no extensions", lambda hello: replace(hello, extensions=()), {"20250211": CLOSE_NOTIFY}),
    ("garbage body", lambda hello: b"\x01\x00\x00\x03abc", {"20251113": CLOSE_NOTIFY}),
    ("empty body", lambda hello: b"\x01\x00\x00\x00", {"20250211": CLOSE_NOTIFY}),
    ("not a ClientHello", lambda hello: b"\x14\x00\x00\x04abcd", {"20251113": CLOSE_NOTIFY}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "edit", "server_policy", "alert"),
    [
        pytest.param(case, edit, server_policy, alert, id=f"{case}-{server_policy}")
        for case, edit, outcomes in CASES
        for server_policy, alert in outcomes.items()
    ],
)
def test_second_client_hello_as_s2n(case: str, edit: Edit, server_policy: str, alert: bytes | None) -> None:
    verdict = _retry_case(server_policy, edit)
    _assert_same(verdict)
    if alert is None:
        assert not verdict.engine.ended, verdict
        assert verdict.flights >= 1  # the second ClientHello was answered
    else:
        assert verdict.flights == 1 and verdict.engine.status is Status.FAILED, verdict
        assert verdict.engine.output == alert
        assert verdict.engine.error != InternalError.__name__


def test_unchanged_second_hello_completes_the_handshake() -> None:
    verdict = _retry_case("20251113", lambda hello: hello)
    assert verdict.flights == 3 and not verdict.engine.ended  # CH1 / CCS+CH2 / Finished, then nothing to say


@pytest.mark.parametrize("server_policy", sorted(SERVERS))
def test_second_hello_without_key_share_gets_a_server_hello_without_one(server_policy: str) -> None:
    # A finding, pinned: s2n answers with a ServerHello that has no key_share (a response extension
    # it sends only when requested), then fails computing the shared secret with an internal error
    # (S2N_ERR_NULL, S2N_ERR_SAFETY). The engine writes the same ServerHello, then says missing_extension.
    verdict = _retry_case(server_policy, _without(ExtensionType.KEY_SHARE))
    _assert_same(verdict)
    assert verdict.s2n.error in {"S2N_ERR_NULL", "S2N_ERR_SAFETY"}
    assert verdict.engine.error == "MissingExtensionError"
    server_hello = decode_handshake(verdict.engine.output[5:-7])
    assert [e.extension_type for e in server_hello.extensions] == [ExtensionType.SUPPORTED_VERSIONS]  # type: ignore[union-attr]
    assert verdict.engine.output.endswith(CLOSE_NOTIFY)


@pytest.mark.parametrize("keep_version", [False, True], ids=["rfc-client", "s2n-client"])
def test_second_hello_without_supported_versions_is_answered_as_tls13_by_a_tls12_policy(keep_version: bool) -> None:
    # A finding, pinned: without supported_versions s2n keeps the TLS 1.3 it chose for the first
    # ClientHello (the policy accepts the legacy_version's TLS 1.2) and writes a ServerHello without
    # supported_versions. The engine writes the same flight. A client that reads it as RFC 8446 4.1.4
    # says (Compat.keep_hello_retry_version off) refuses it there, so the verdict holds that flight; one
    # that reads it as s2n's client does keeps the HelloRetryRequest's TLS 1.3 and completes.
    compat = replace(Compat.s2n(), keep_hello_retry_version=keep_version)
    verdict = _retry_case("20251113", _without(ExtensionType.SUPPORTED_VERSIONS), actor_compat=compat)
    _assert_same(verdict)
    if keep_version:
        assert verdict.flights == 3 and not verdict.engine.ended, verdict  # the actor's Finished was taken
        assert verdict.actor.status is Status.COMPLETE
        return
    assert verdict.engine.output.startswith(bytes.fromhex("16030300b5"))  # the ServerHello, 6 bytes short
    assert bytes.fromhex("002b00020304") not in verdict.engine.output[:200]
    assert verdict.actor.status is Status.FAILED and verdict.actor.output == PROTOCOL_VERSION


# ---- the first ClientHello's key shares, read as s2n reads them ----


def _first_hello_hook(edit: Edit) -> Callable[[int, bytes], bytes]:
    def hook(msg_type: int, encoded: bytes) -> bytes:
        if msg_type != HandshakeType.CLIENT_HELLO:
            return encoded
        hello = decode_handshake(encoded)
        assert isinstance(hello, ClientHello)
        edited = edit(hello)
        return edited if isinstance(edited, bytes) else encode_handshake(edited)

    return hook


BAD_P256 = b"\x04" + bytes(64)
P256 = _share(SECP256R1)
Shares = Callable[[bytes], bytes | None]  # the client's own P-256 share -> the key_share body to send


def _own_share(hello: ClientHello) -> bytes:
    extension = next(e for e in hello.extensions if e.extension_type == ExtensionType.KEY_SHARE)
    return KeyShareClientHello.decode(extension.data).client_shares[0].key_exchange


@pytest.mark.parametrize(
    ("case", "key_share", "hello_retry"),
    [
        ("a point not on the curve is ignored: retry", lambda own: _key_shares((SECP256R1, BAD_P256)), True),
        ("a short share is ignored: retry", lambda own: _key_shares((SECP256R1, own[:10])), True),
        ("a compressed point is ignored: retry", lambda own: _key_shares((SECP256R1, b"\x02" + own[1:33])), True),
        ("an empty share is ignored: retry", lambda own: _key_shares((SECP256R1, b"")), True),
        ("the same group twice: the first counts", lambda own: _key_shares((SECP256R1, own), (SECP256R1, P256)), False),
        ("a bad share then a good one", lambda own: _key_shares((SECP256R1, BAD_P256), (SECP256R1, own)), False),
        ("a hybrid point is read", lambda own: _key_shares((SECP256R1, bytes([6 | own[-1] & 1]) + own[1:])), False),
        ("an unknown group first", lambda own: _key_shares((0x1234, b"zz"), (SECP256R1, own)), False),
        ("no key_share extension: retry", lambda own: None, True),
    ],
)  # fmt: skip
def test_first_client_hello_key_shares_as_s2n(case: str, key_share: Shares, hello_retry: bool) -> None:
    def edit(hello: ClientHello) -> ClientHello | bytes:
        body = key_share(_own_share(hello))
        return _without(ExtensionType.KEY_SHARE)(hello) if body is None else _with(ExtensionType.KEY_SHARE, body)(hello)

    actor = engine_endpoint(Setup(Role.CLIENT, CLIENT_POLICY, "ecdsa-p256", 3), message_hook=_first_hello_hook(edit))
    verdict = run_lockstep(actor, Setup(Role.SERVER, CLIENT_POLICY, "ecdsa-p256", 3))
    _assert_same(verdict)
    assert not verdict.engine.ended
    assert ("HELLO_RETRY_REQUEST" in verdict.engine.handshake_type) is hello_retry
    if not hello_retry:  # the actor hashed what it sent: the handshake completes
        assert verdict.engine.status is verdict.actor.status is Status.COMPLETE


# ---- property: any second ClientHello raises only TLSError, never InternalError ----


def _after_retry(server_policy: str) -> tuple[bytes, bytes]:
    """The client's first flight and its second (CCS + ClientHello2) against ``server_policy``."""
    cert_type = SERVERS[server_policy]
    client = engine_connection(CLIENT_POLICY, cert_type, 5, client=True)
    server = engine_connection(server_policy, cert_type, 5, client=False)
    client.start()
    first = client.data_to_send()
    server.receive_data(first)
    client.receive_data(server.data_to_send())
    return first, client.data_to_send()


_FLIGHTS = {policy: _after_retry(policy) for policy in SERVERS}


@st.composite
def _second_hellos(draw: st.DrawFn) -> tuple[str, bytes]:
    """A policy and a second ClientHello body: random bytes, or the valid one with bytes flipped, with other
    cipher suites, or with an extension replaced or dropped."""
    server_policy = draw(st.sampled_from(sorted(SERVERS)))
    valid = _FLIGHTS[server_policy][1][6 + 5 + 4 :]  # after the CCS, the record header, the message header
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return server_policy, draw(st.binary(max_size=600))
    if choice == 1:
        body = bytearray(valid)
        for _ in range(draw(st.integers(1, 4))):
            body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
        return server_policy, bytes(body[: draw(st.integers(0, len(body)))] if draw(st.booleans()) else body)
    hello = decode_handshake(_FLIGHTS[server_policy][1][11:])
    assert isinstance(hello, ClientHello)
    if choice == 2:
        suites = draw(st.lists(st.sampled_from([0x1301, 0x1302, 0x1303, 0xC02B, 0x00FF, 0x1304]), min_size=1))
        return server_policy, encode_handshake(replace(hello, cipher_suites=tuple(suites)))[4:]
    kinds = [e.extension_type for e in hello.extensions] + [ExtensionType.COOKIE, ExtensionType.EARLY_DATA, 47]
    kind = draw(st.sampled_from(kinds))
    data = draw(st.binary(max_size=120))
    edited = _with(kind, data)(hello) if draw(st.booleans()) else _without(kind)(hello)
    return server_policy, encode_handshake(edited)[4:]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_second_hellos())
def test_any_second_client_hello_raises_only_tls_errors(case: tuple[str, bytes]) -> None:
    server_policy, body = case
    first, _ = _FLIGHTS[server_policy]
    server = engine_connection(server_policy, SERVERS[server_policy], 5, client=False)
    server.receive_data(first)
    assert "HELLO_RETRY_REQUEST" in server.handshake_type_name
    message = bytes([HandshakeType.CLIENT_HELLO]) + len(body).to_bytes(3, "big") + body
    record = bytes([22, 3, 3]) + len(message).to_bytes(2, "big") + message
    try:
        server.receive_data(record)
    except InternalError:
        raise
    except TLSError:
        return
