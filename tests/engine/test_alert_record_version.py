"""The record an engine server refuses a ClientHello's versions in: byte for byte s2n's, for any offer.

s2n numbers a version in one byte, ``major * 10 + minor`` (a uint8: 0x7f1c is 18), and writes every
record, alerts too, in its ``actual_protocol_version`` (tls/s2n_record_write.c:173-219,
``s2n_record_protocol_version``: at most TLS 1.2, unknown as TLS 1.0, then ``version / 10,
version % 10``). Two ways of refusing a first ClientHello's versions set it differently:

* supported_versions malformed, or offering nothing within the policy and TLS 1.3 (values other
  than 3.0 to 3.4 are skipped, tls/extensions/s2n_client_supported_versions.c:98-100): the version
  is forgotten (unknown, :167-168), so TLS 1.0, whatever the list held; one acceptable version
  anywhere in the list is taken and legacy_version no longer counts.
* no supported_versions: the version is legacy_version's, at most TLS 1.2 (tls/s2n_client_hello.c:475,
  :582), refused below the policy's minimum (:585-587) in a record of that very version: 0x0001
  goes out as ``15 00 01``.

Each case runs the engine client's ClientHello, rewritten, in lockstep against an s2n server and
an engine server (tests/engine/lockstep.py); the RFC reading (``Compat.lenient_client_hello`` off)
keeps 0x0303.
"""

from __future__ import annotations

import doctest
from collections.abc import Callable
from dataclasses import replace

import pytest

from engine.config import Compat
from engine.errors import ProtocolVersionError
from engine.handshake import server
from engine.wire.extensions import Extension, ExtensionType
from engine.wire.handshake import ClientHello, HandshakeType, decode_handshake, encode_handshake
from tests.engine.lockstep import Verdict, engine_connection, engine_endpoint, run_lockstep
from tlsdiff.harness import Role, Setup, Status

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws

CLIENT_POLICY = "default_tls13"
CERT = "ecdsa-p256"
TLS13_ONLY = "20250211"  # minimum TLS 1.3: every legacy_version without supported_versions is refused
TLS12_MINIMUM = "KMS-FIPS-TLS-1-2-2021-08"
TLS10_MINIMUM = "KMS-TLS-1-0-2021-08"
_POLICY_MINIMUM = {TLS13_ONLY: 34, TLS12_MINIMUM: 33, TLS10_MINIMUM: 31}
SV = ExtensionType.SUPPORTED_VERSIONS

Edit = Callable[[ClientHello], ClientHello]


def _protocol_version_alert(record_version: str) -> bytes:
    return bytes.fromhex("15" + record_version + "00020246")


AS_TLS10 = _protocol_version_alert("0301")


def _versions(*versions: int, list_size: int | None = None) -> bytes:
    body = b"".join(version.to_bytes(2, "big") for version in versions)
    return bytes([len(body) if list_size is None else list_size]) + body


def _edit(*, legacy_version: int | None = None, supported_versions: bytes | None = None) -> Edit:
    """Set legacy_version (None: keep it) and supported_versions (None: drop it) of every ClientHello."""

    def edit(hello: ClientHello) -> ClientHello:
        kept = tuple(e for e in hello.extensions if e.extension_type != SV)
        extensions = kept if supported_versions is None else (*kept, Extension(SV, supported_versions))
        version = hello.legacy_version if legacy_version is None else legacy_version
        return replace(hello, legacy_version=version, extensions=extensions)

    return edit


def _hook(edit: Edit) -> Callable[[int, bytes], bytes]:
    def hook(msg_type: int, encoded: bytes) -> bytes:
        if msg_type != HandshakeType.CLIENT_HELLO:
            return encoded
        hello = decode_handshake(encoded)
        if not isinstance(hello, ClientHello):
            raise TypeError("the client's own ClientHello does not decode")
        return encode_handshake(edit(hello))

    return hook


def _run(edit: Edit, policy: str) -> Verdict:
    actor = engine_endpoint(Setup(Role.CLIENT, CLIENT_POLICY, CERT, 3), message_hook=_hook(edit))
    return run_lockstep(actor, Setup(Role.SERVER, policy, CERT, 3))


def _check(verdict: Verdict, expected: bytes | None) -> None:
    """Both answer alike; ``expected`` is the alert both refuse with (None: the handshake goes on)."""
    assert verdict.s2n.status == verdict.engine.status, verdict
    assert verdict.s2n.output == verdict.engine.output, verdict
    if expected is None:
        assert not verdict.engine.ended and verdict.flights >= 1, verdict
    else:
        assert verdict.engine.status is Status.FAILED and verdict.engine.output == expected, verdict


# legacy_version -> s2n's one byte (uint8: (major * 10 + minor) mod 256) -> the record version, at most 3.3.
LEGACY_VERSIONS: list[tuple[int, int, str]] = [
    (0x0001, 1, "0001"),  # the pinned corpus input
    (0x0000, 0, "0301"),  # unknown: TLS 1.0
    (0x0203, 23, "0203"),
    (0x0019, 25, "0205"),
    (0x0300, 30, "0300"),  # SSLv3
    (0x0301, 31, "0301"),
    (0x0302, 32, "0302"),
    (0x0303, 33, "0303"),
    (0x0304, 34, "0303"),  # above TLS 1.2: negotiated down (s2n_client_hello.c:475)
    (0x7F1C, 18, "0108"),  # 1298 mod 256
    (0x1A00, 4, "0004"),  # 260 mod 256
    (0x0A0A, 110, "0303"),  # GREASE
    (0xFEFD, 233, "0303"),  # DTLS 1.2
    (0xFFFF, 245, "0303"),
]


def _legacy_cases() -> list[object]:
    return [
        pytest.param(wire, policy, record, id=f"{wire:04x}-{policy}")
        for wire, one_byte, record in LEGACY_VERSIONS
        for policy, minimum in _POLICY_MINIMUM.items()
        if one_byte < minimum  # otherwise s2n goes on to TLS 1.2 or below, which the engine does not speak
    ]


@pytest.mark.parametrize(("legacy_version", "policy", "record_version"), _legacy_cases())
def test_no_supported_versions_refused_in_the_legacy_version_record(
    legacy_version: int, policy: str, record_version: str
) -> None:
    verdict = _run(_edit(legacy_version=legacy_version), policy)
    _check(verdict, _protocol_version_alert(record_version))


# supported_versions bodies -> None (TLS 1.3 taken, the handshake goes on) or the alert.
SUPPORTED_VERSIONS: list[tuple[str, bytes, bytes | None]] = [
    *((f"only {version:04x}", _versions(version), AS_TLS10)
      for version in (0x0001, 0x7F1C, 0xFEFD, 0x0A0A, 0x0305, 0x0300, 0x0203, 0xFFFF, 0x0302)),
    ("several garbage versions", _versions(0x0001, 0x7F1C, 0x0A0A, 0x0305, 0xFFFF), AS_TLS10),
    ("TLS 1.3 then garbage", _versions(0x0304, 0x0001, 0x7F1C), None),
    ("garbage then TLS 1.3", _versions(0x0A0A, 0x0305, 0x0304), None),
    ("TLS 1.3 between garbage", _versions(0xFFFF, 0x0304, 0x0203), None),
    ("TLS 1.3 and garbage, list length odd", _versions(0x0304, 0x0001, list_size=3) + b"\x00", AS_TLS10),
    ("TLS 1.3 and garbage, list length short", _versions(0x0304, 0x0001, list_size=2), AS_TLS10),
    ("empty list", _versions(), AS_TLS10),
    ("empty body", b"", AS_TLS10),
]  # fmt: skip


@pytest.mark.parametrize("legacy_version", [0x0303, 0x0001, 0x7F1C], ids=["legacy-0303", "legacy-0001", "legacy-7f1c"])
@pytest.mark.parametrize(("case", "body", "expected"), [pytest.param(*case, id=case[0]) for case in SUPPORTED_VERSIONS])
def test_supported_versions_garbage_refused_as_tls10(
    case: str, body: bytes, expected: bytes | None, legacy_version: int
) -> None:
    _check(_run(_edit(legacy_version=legacy_version, supported_versions=body), CLIENT_POLICY), expected)


@pytest.mark.parametrize("legacy_version", [0x0001, 0x0300, 0x7F1C])
def test_rfc_reading_refuses_in_a_tls12_record(legacy_version: int) -> None:
    actor = engine_connection(
        CLIENT_POLICY, CERT, 3, client=True, message_hook=_hook(_edit(legacy_version=legacy_version))
    )
    engine_server = engine_connection(TLS13_ONLY, CERT, 3, client=False, compat=Compat.rfc())
    actor.start()
    with pytest.raises(ProtocolVersionError):
        engine_server.receive_data(actor.data_to_send())
    assert engine_server.data_to_send() == _protocol_version_alert("0303")


def test_record_version_doctest() -> None:
    failures, tried = doctest.testmod(server)
    assert tried and not failures
