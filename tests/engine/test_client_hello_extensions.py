"""Every ClientHello extension, malformed every way: the engine server answers as the s2n server does.

Each case rewrites the extensions of the actor's ClientHello (every one it sends, so a second
ClientHello after a HelloRetryRequest carries the same edit) inside the actor
(``message_hook``: its own transcript holds the bytes sent), and runs it in lockstep
(tests/engine/lockstep.py) against an s2n server and an engine server: both must refuse
the same flight with the same alert bytes, or both answer with the same bytes. The
expected verdict is pinned too (``OK``: answered; ``REFUSED``: close_notify; or the alert
record), so a change in either implementation shows. The descriptors the engine follows
are in ``engine.handshake.client_hello_extensions``; the RFC behaviour
(``Compat.lenient_client_hello`` off) is checked without s2n at the end.
"""

from __future__ import annotations

import doctest
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import Compat
from engine.crypto.key_exchange import generate_key_share
from engine.errors import (
    DecodeError,
    HandshakeFailureError,
    IllegalParameterError,
    MissingExtensionError,
    NoApplicationProtocolError,
    ProtocolVersionError,
    TLSError,
    UnsupportedExtensionError,
)
from engine.handshake.client_hello_extensions import CLIENT_HELLO_EXTENSIONS, OfferContext
from engine.handshake.client_offer import read_offer
from engine.randomness import SeededRandomSource, StreamLabel
from engine.wire import s2n_bodies
from engine.wire.extensions import Extension, ExtensionType
from engine.wire.handshake import S2N_PARSED_EXTENSIONS, ClientHello, HandshakeType, decode_handshake, encode_handshake
from tests.engine.lockstep import Verdict, engine_endpoint, run_lockstep
from tlsdiff.harness import Role, Setup, Status

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws

POLICY = "default_tls13"
TLS13_ONLY = "CloudFront-TLS-1-3-2025"
CERT = "ecdsa-p256"
ALPN = ("h2", "http/1.1")
OK = b""  # both answered alike
REFUSED = bytes.fromhex("15030300020100")  # close_notify in a TLS 1.2 record
REFUSED_AS_TLS10 = bytes.fromhex("15030100020100")  # close_notify while s2n knows no version
PROTOCOL_VERSION = bytes.fromhex("15030300020246")

SN, SG, KS = ExtensionType.SERVER_NAME, ExtensionType.SUPPORTED_GROUPS, ExtensionType.KEY_SHARE
SA, SAC, ALPN_EXT = ExtensionType.SIGNATURE_ALGORITHMS, ExtensionType.SIGNATURE_ALGORITHMS_CERT, 16
SV, PSK = ExtensionType.SUPPORTED_VERSIONS, ExtensionType.PRE_SHARED_KEY
PSK_MODES = ExtensionType.PSK_KEY_EXCHANGE_MODES
SECP256R1, X25519 = 0x0017, 0x001D

Edit = Callable[[ClientHello], ClientHello]


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def _host(name: bytes, name_type: int = 0) -> bytes:
    return bytes([name_type]) + _u16(len(name)) + name


def _names(*entries: bytes, list_size: int | None = None, tail: bytes = b"") -> bytes:
    body = b"".join(entries)
    return _u16(len(body) if list_size is None else list_size) + body + tail


def _u16_list(*values: int, list_size: int | None = None, tail: bytes = b"") -> bytes:
    body = b"".join(_u16(value) for value in values)
    return _u16(len(body) if list_size is None else list_size) + body + tail


def _protocols(*names: bytes, list_size: int | None = None, tail: bytes = b"") -> bytes:
    body = b"".join(bytes([len(name)]) + name for name in names)
    return _u16(len(body) if list_size is None else list_size) + body + tail


def _share(group: int) -> bytes:
    return generate_key_share(group, SeededRandomSource(99, StreamLabel.CLIENT)).public


def _shares(*entries: tuple[int, bytes], list_size: int | None = None, tail: bytes = b"") -> bytes:
    body = b"".join(_u16(group) + _u16(len(share)) + share for group, share in entries)
    return _u16(len(body) if list_size is None else list_size) + body + tail


def _set(extension_type: int, data: bytes) -> Edit:
    """Replace the extension's body where it is, or append the extension."""

    def edit(hello: ClientHello) -> ClientHello:
        if all(e.extension_type != extension_type for e in hello.extensions):
            return replace(hello, extensions=(*hello.extensions, Extension(extension_type, data)))
        new = Extension(extension_type, data)
        return replace(
            hello, extensions=tuple(new if e.extension_type == extension_type else e for e in hello.extensions)
        )

    return edit


def _append(extension_type: int, data: bytes) -> Edit:
    return lambda hello: replace(hello, extensions=(*hello.extensions, Extension(extension_type, data)))


def _drop(extension_type: int) -> Edit:
    return lambda hello: replace(
        hello, extensions=tuple(e for e in hello.extensions if e.extension_type != extension_type)
    )


def _then(*edits: Edit) -> Edit:
    def edit(hello: ClientHello) -> ClientHello:
        for each in edits:
            hello = each(hello)
        return hello

    return edit


def _hook(edit: Edit) -> Callable[[int, bytes], bytes]:
    def hook(msg_type: int, encoded: bytes) -> bytes:
        if msg_type != HandshakeType.CLIENT_HELLO:
            return encoded
        hello = decode_handshake(encoded)
        assert isinstance(hello, ClientHello)
        return encode_handshake(edit(hello))

    return hook


def _setup(policy: str, *, client: bool, alpn: tuple[str, ...]) -> Setup:
    return Setup(Role.CLIENT if client else Role.SERVER, policy, CERT, 3, alpn=alpn)


def _run(edit: Edit, *, policy: str = POLICY, alpn: tuple[str, ...] = ()) -> Verdict:
    actor = engine_endpoint(_setup(policy, client=True, alpn=alpn), message_hook=_hook(edit))
    return run_lockstep(actor, _setup(policy, client=False, alpn=alpn))


def _check(verdict: Verdict, expected: bytes) -> None:
    assert verdict.s2n.status == verdict.engine.status, verdict
    assert verdict.s2n.output == verdict.engine.output, verdict
    if expected == OK:
        assert not verdict.engine.ended, verdict
    else:
        assert verdict.engine.status is Status.FAILED and verdict.engine.output == expected, verdict


LOCALHOST = b"localhost"
# (case, edit, expected)
SERVER_NAME_CASES: list[tuple[str, Edit, bytes]] = [
    ("trailing bytes after the list", _set(SN, _names(_host(LOCALHOST), tail=b"\x00\x01")), OK),
    ("list length zero, entry read anyway", _set(SN, _names(_host(LOCALHOST), list_size=0)), OK),
    ("list length short of the entry", _set(SN, _names(_host(LOCALHOST), list_size=3)), OK),
    ("list length beyond the body", _set(SN, _names(_host(LOCALHOST), list_size=0x100)), OK),
    ("first entry not a host_name", _set(SN, _names(_host(b"abc", 1), _host(LOCALHOST))), OK),
    ("a later host_name after another", _set(SN, _names(_host(b"other.example"), _host(LOCALHOST))), OK),
    ("host_name twice", _set(SN, _names(_host(LOCALHOST), _host(LOCALHOST))), OK),
    ("zero-length name", _set(SN, _names(_host(b""))), OK),
    ("zero-length name, then localhost", _set(SN, _names(_host(b""), _host(LOCALHOST))), OK),
    ("NUL inside the name", _set(SN, _names(_host(LOCALHOST + b"\x00.example"))), OK),
    ("name starting with NUL", _set(SN, _names(_host(b"\x00" + LOCALHOST))), OK),
    ("name of 255 bytes", _set(SN, _names(_host(b"a" * 255))), OK),
    ("name of 256 bytes", _set(SN, _names(_host(b"a" * 256))), OK),
    ("name longer than the body", _set(SN, _names(_u16(0) + b"\x00\x20" + LOCALHOST, list_size=0)), OK),
    ("upper-case name", _set(SN, _names(_host(b"LocalHost"))), OK),
    ("UTF-8 name", _set(SN, _names(_host("localhöst".encode()))), OK),
    ("name not UTF-8", _set(SN, _names(_host(b"\xff\xfe.localhost"))), OK),
    ("empty list", _set(SN, _names()), OK),
    ("empty body", _set(SN, b""), OK),
    ("one byte", _set(SN, b"\x00"), OK),
    ("list length only", _set(SN, b"\x00\x00\x00"), OK),
    ("name type only", _set(SN, b"\x00\x00\x00\x00"), OK),
    ("absent", _drop(SN), OK),
]

SUPPORTED_GROUPS_CASES: list[tuple[str, Edit, bytes]] = [
    ("trailing byte", _set(SG, _u16_list(SECP256R1, tail=b"\x00")), OK),
    ("trailing bytes, x25519 first", _set(SG, _u16_list(X25519, SECP256R1, tail=b"\xff\xff\xff")), OK),
    ("empty list: no group in common", _set(SG, _u16_list()), REFUSED),
    ("list length beyond the body: ignored", _set(SG, _u16_list(SECP256R1, list_size=4)), OK),
    ("odd list length: ignored", _set(SG, _u16_list(SECP256R1, list_size=1, tail=b"\x00")), OK),
    ("empty body: ignored", _set(SG, b""), OK),
    ("one byte: ignored", _set(SG, b"\x17"), OK),
    ("repeated group", _set(SG, _u16_list(SECP256R1, SECP256R1)), OK),
    ("unknown groups first", _set(SG, _u16_list(0x1234, 0xFFFF, SECP256R1)), OK),
    ("only groups outside the policy", _set(SG, _u16_list(0x001E, 0x0100)), REFUSED),
    ("absent", _drop(SG), OK),
]

P256_SHARE = _share(SECP256R1)
KEY_SHARE_CASES: list[tuple[str, Edit, bytes]] = [
    ("empty list: a HelloRetryRequest", _set(KS, _shares()), OK),
    ("trailing byte", _set(KS, _shares((SECP256R1, P256_SHARE), tail=b"\x00")), REFUSED),
    ("list length beyond the body", _set(KS, _shares((SECP256R1, P256_SHARE), list_size=0x100)), REFUSED),
    ("entry overruns the list", _set(KS, _u16(6) + _u16(SECP256R1) + _u16(65) + P256_SHARE[:2]), REFUSED),
    ("zero-length share skipped", _set(KS, _shares((SECP256R1, b""))), OK),
    ("unknown group before the share", _set(KS, _shares((0x1234, b"junk"), (SECP256R1, P256_SHARE))), OK),
    ("bad share, then the good one", _set(KS, _shares((SECP256R1, b"\x04" + bytes(64)), (SECP256R1, P256_SHARE))),
     OK),
    ("good share, then a bad one", _set(KS, _shares((SECP256R1, P256_SHARE), (SECP256R1, b"\x04" + bytes(64)))),
     OK),
    ("empty body", _set(KS, b""), REFUSED),
    ("one byte", _set(KS, b"\x00"), REFUSED),
    ("absent: a HelloRetryRequest", _drop(KS), OK),
]  # fmt: skip

SIGNATURE_CASES: list[tuple[str, Edit, bytes]] = [
    ("trailing byte", _set(SA, _u16_list(0x0403, tail=b"\x00")), OK),
    ("list length beyond the body: ignored, fallback", _set(SA, _u16_list(0x0403, list_size=4)), OK),
    ("odd list length: ignored", _set(SA, _u16_list(0x0403, list_size=1, tail=b"\x00")), OK),
    ("empty list: fallback", _set(SA, _u16_list()), OK),
    ("one byte", _set(SA, b"\x00"), REFUSED),
    ("empty body", _set(SA, b""), REFUSED),
    ("128 schemes", _set(SA, _u16_list(*([0x0403] * 128))), OK),
    ("129 schemes", _set(SA, _u16_list(*([0x0403] * 129))), REFUSED),
    ("repeated and unknown schemes", _set(SA, _u16_list(0x7777, 0x0403, 0x0403, 0x0201)), OK),
    ("no ECDSA scheme: fallback", _set(SA, _u16_list(0x0804, 0x0401)), OK),
    ("absent: fallback", _drop(SA), OK),
    ("signature_algorithms_cert garbage", _append(SAC, b"\x01"), OK),
    ("signature_algorithms_cert twice", _then(_append(SAC, _u16_list(0x0403)), _append(SAC, b"")), OK),
]

MISC_CASES: list[tuple[str, Edit, bytes]] = [
    ("ec_point_formats empty", _set(ExtensionType.EC_POINT_FORMATS, b""), OK),
    ("ec_point_formats without uncompressed", _set(ExtensionType.EC_POINT_FORMATS, b"\x01\x01"), OK),
    ("ec_point_formats garbage", _set(ExtensionType.EC_POINT_FORMATS, b"\x09\x00"), OK),
    ("status_request empty", _append(ExtensionType.STATUS_REQUEST, b""), OK),
    ("status_request garbage", _append(ExtensionType.STATUS_REQUEST, b"\x02\x00\x01"), OK),
    ("status_request OCSP", _append(ExtensionType.STATUS_REQUEST, b"\x01\x00\x00\x00\x00"), OK),
    ("signed_certificate_timestamp garbage", _append(ExtensionType.SIGNED_CERTIFICATE_TIMESTAMP, b"\x01\x02"), OK),
    ("npn garbage", _append(ExtensionType.NPN, b"\x03abc"), OK),
    ("max_fragment_length empty", _append(ExtensionType.MAX_FRAGMENT_LENGTH, b""), OK),
    ("max_fragment_length invalid code", _append(ExtensionType.MAX_FRAGMENT_LENGTH, b"\x09"), OK),
    ("record_size_limit garbage", _append(ExtensionType.RECORD_SIZE_LIMIT, b"\x00"), OK),
    ("session_ticket garbage", _append(ExtensionType.SESSION_TICKET, b"\x01\x02\x03"), OK),
    ("padding not zeros, twice", _then(_append(21, b"\x01\x02"), _append(21, b"")), OK),
    ("pq_kem_parameters garbage", _append(0xFE01, b"\x00"), OK),
    ("certificate_authorities garbage", _append(ExtensionType.CERTIFICATE_AUTHORITIES, b"\x00"), OK),
    ("certificate_authorities twice (a parse error)", _then(_append(47, b""), _append(47, b"")), REFUSED_AS_TLS10),
    ("unknown types, repeated", _then(_append(0x7777, b"x"), _append(0x7777, b""), _append(0xFFFF, b"")), OK),
    ("renegotiation_info empty connection", _append(ExtensionType.RENEGOTIATION_INFO, b"\x00"), OK),
    ("renegotiation_info empty body", _append(ExtensionType.RENEGOTIATION_INFO, b""), REFUSED),
    ("renegotiation_info not empty", _append(ExtensionType.RENEGOTIATION_INFO, b"\x01\x00"), REFUSED),
    ("renegotiation_info length only", _append(ExtensionType.RENEGOTIATION_INFO, b"\x01"), REFUSED),
    ("renegotiation_info trailing byte", _append(ExtensionType.RENEGOTIATION_INFO, b"\x00\x00"), REFUSED),
    ("extended_master_secret empty", _set(ExtensionType.EXTENDED_MASTER_SECRET, b""), OK),
    ("extended_master_secret with a body", _set(ExtensionType.EXTENDED_MASTER_SECRET, b"\x00"), REFUSED),
    ("quic_transport_parameters", _append(ExtensionType.QUIC_TRANSPORT_PARAMETERS, b""), REFUSED),
    ("cookie never sent", _append(ExtensionType.COOKIE, b"\x00\x01\x00"), REFUSED),
    ("cookie empty body", _append(ExtensionType.COOKIE, b""), REFUSED),
    ("early_data without pre_shared_key", _append(ExtensionType.EARLY_DATA, b""), REFUSED),
    ("early_data with a body", _append(ExtensionType.EARLY_DATA, b"\x00\x00\x00\x01"), REFUSED),
]  # fmt: skip

_PSK_BODY = _u16(11) + _u16(5) + b"ident" + bytes(4) + _u16(33) + bytes([32]) + bytes(32)
_DHE_MODES = b"\x01\x01"
PSK_CASES: list[tuple[str, Edit, bytes]] = [
    ("psk_key_exchange_modes dhe", _append(PSK_MODES, _DHE_MODES), OK),
    ("psk_key_exchange_modes empty body", _append(PSK_MODES, b""), REFUSED),
    ("psk_key_exchange_modes empty list", _append(PSK_MODES, b"\x00"), OK),
    ("psk_key_exchange_modes length beyond the body", _append(PSK_MODES, b"\x05\x01"), OK),
    ("psk_key_exchange_modes trailing bytes", _append(PSK_MODES, b"\x01\x01\x07\x07"), OK),
    ("pre_shared_key last, with modes", _then(_append(PSK_MODES, _DHE_MODES), _append(PSK, _PSK_BODY)), OK),
    ("pre_shared_key garbage body", _then(_append(PSK_MODES, _DHE_MODES), _append(PSK, b"\x01")), OK),
    ("pre_shared_key empty body", _then(_append(PSK_MODES, _DHE_MODES), _append(PSK, b"")), OK),
    ("pre_shared_key then an unknown type", _then(_append(PSK_MODES, _DHE_MODES), _append(PSK, _PSK_BODY),
                                                  _append(0x7777, b"")), OK),
    ("pre_shared_key then a parsed type", _then(_append(PSK_MODES, _DHE_MODES), _append(PSK, _PSK_BODY),
                                                _append(ExtensionType.RENEGOTIATION_INFO, b"\x00")), REFUSED),
    ("pre_shared_key not last", lambda hello: replace(hello, extensions=(Extension(PSK, _PSK_BODY),
                                                                         *_append(PSK_MODES, _DHE_MODES)(hello)
                                                                         .extensions)), REFUSED),
    ("pre_shared_key without modes", _append(PSK, _PSK_BODY), REFUSED),
    ("pre_shared_key, psk_ke mode only, no key_share", _then(_drop(KS), _append(PSK_MODES, b"\x01\x00"),
                                                             _append(PSK, _PSK_BODY)), OK),
    ("pre_shared_key, dhe mode, no key_share", _then(_drop(KS), _append(PSK_MODES, _DHE_MODES),
                                                     _append(PSK, _PSK_BODY)), REFUSED),
    ("early_data with pre_shared_key", _then(_append(PSK_MODES, _DHE_MODES), _append(ExtensionType.EARLY_DATA, b""),
                                             _append(PSK, _PSK_BODY)), OK),
]  # fmt: skip

CASES = [
    *(("server_name " + case, edit, expected) for case, edit, expected in SERVER_NAME_CASES),
    *(("supported_groups " + case, edit, expected) for case, edit, expected in SUPPORTED_GROUPS_CASES),
    *(("key_share " + case, edit, expected) for case, edit, expected in KEY_SHARE_CASES),
    *(("signature_algorithms " + case, edit, expected) for case, edit, expected in SIGNATURE_CASES),
    *MISC_CASES,
    *PSK_CASES,
]


@pytest.mark.parametrize(("case", "edit", "expected"), [pytest.param(*case, id=case[0]) for case in CASES])
def test_client_hello_extension_as_s2n(case: str, edit: Edit, expected: bytes) -> None:
    _check(_run(edit), expected)


ALPN_CASES: list[tuple[str, bytes, bytes]] = [
    ("h2", _protocols(b"h2"), OK),
    ("trailing bytes", _protocols(b"http/1.1", tail=b"\x00\x07"), OK),
    ("list length beyond the body: ignored", _protocols(b"h2", list_size=9), OK),
    ("list length below 3: ignored", _protocols(b"h2", list_size=2), OK),
    ("empty body", b"", REFUSED),
    ("one byte", b"\x00", REFUSED),
    ("empty list: ignored", _protocols(), OK),
    ("empty name before a match", _u16(4) + b"\x00\x02h2", REFUSED),
    ("empty name after a match", _u16(4) + b"\x02h2\x00", OK),
    ("overrunning name after a match", _u16(6) + b"\x02h2\x09ab", OK),
    ("overrunning name, no match before it", _u16(11) + b"\x08http/1.1\x09a", REFUSED),
    ("the server's second choice", _protocols(b"spdy/3", b"http/1.1"), OK),
    ("no protocol in common", _protocols(b"spdy/3", b"h3"), OK),
    ("repeated names", _protocols(b"h2", b"h2"), OK),
]


@pytest.mark.parametrize(("case", "body", "expected"), [pytest.param(*case, id=case[0]) for case in ALPN_CASES])
def test_alpn_as_s2n(case: str, body: bytes, expected: bytes) -> None:
    _check(_run(_set(ALPN_EXT, body), alpn=ALPN), expected)


@pytest.mark.parametrize("body", [b"", b"\x00", b"\x00\x05\x00"], ids=["empty", "one byte", "bad entry"])
def test_alpn_is_not_read_by_a_server_without_protocols(body: bytes) -> None:
    _check(_run(_set(ALPN_EXT, body)), OK)


# Without supported_versions (a TLS 1.3-only policy) s2n processes the other extensions, no version known, before
# it refuses the version: those with a TLS 1.3 minimum are skipped, the others may fail, in a TLS 1.0 record.
NO_VERSION_CASES: list[tuple[str, Edit, bytes]] = [
    ("nothing else wrong", lambda hello: hello, PROTOCOL_VERSION),
    ("renegotiation_info not empty", _append(ExtensionType.RENEGOTIATION_INFO, b"\x01\x00"), REFUSED_AS_TLS10),
    ("cookie", _append(ExtensionType.COOKIE, b"\x00\x01\x00"), REFUSED_AS_TLS10),
    ("signature_algorithms one byte", _set(SA, b"\x00"), REFUSED_AS_TLS10),
    ("extended_master_secret with a body", _set(ExtensionType.EXTENDED_MASTER_SECRET, b"\x00"), REFUSED_AS_TLS10),
    ("key_share garbage (not read)", _set(KS, b"\x00"), PROTOCOL_VERSION),
    ("quic_transport_parameters (not read)", _append(ExtensionType.QUIC_TRANSPORT_PARAMETERS, b""), PROTOCOL_VERSION),
    ("pre_shared_key not last (not read)", lambda hello: replace(hello, extensions=(Extension(PSK, b""),
                                                                                   *hello.extensions)),
     PROTOCOL_VERSION),
    ("early_data without pre_shared_key", _append(ExtensionType.EARLY_DATA, b""), PROTOCOL_VERSION),
    ("supported_groups empty list", _set(SG, _u16_list()), PROTOCOL_VERSION),
]  # fmt: skip


@pytest.mark.parametrize(("case", "edit", "expected"), [pytest.param(*case, id=case[0]) for case in NO_VERSION_CASES])
def test_extensions_read_before_a_missing_version_is_refused(case: str, edit: Edit, expected: bytes) -> None:
    _check(_run(_then(_drop(SV), edit), policy=TLS13_ONLY), expected)


# --- the RFC's handling (Compat.lenient_client_hello off), without s2n ---------------------------------------------


def _client_hello(edit: Edit) -> ClientHello:
    actor = engine_endpoint(_setup(POLICY, client=True, alpn=ALPN)).connection
    actor.start()
    hello = decode_handshake(actor.data_to_send()[5:])
    assert isinstance(hello, ClientHello)
    return edit(hello)


RFC_CASES: list[tuple[str, Edit, type[TLSError]]] = [
    ("server_name trailing bytes", _set(SN, _names(_host(LOCALHOST), tail=b"\x00")), DecodeError),
    ("server_name zero-length name", _set(SN, _names(_host(b""))), DecodeError),
    ("server_name host_name twice", _set(SN, _names(_host(LOCALHOST), _host(b"other"))), IllegalParameterError),
    ("server_name not ASCII", _set(SN, _names(_host("localhöst".encode()))), DecodeError),
    ("supported_groups trailing byte", _set(SG, _u16_list(SECP256R1, tail=b"\x00")), DecodeError),
    ("supported_groups empty list", _set(SG, _u16_list()), DecodeError),
    ("supported_groups absent", _drop(SG), MissingExtensionError),
    ("key_share trailing byte", _set(KS, _shares((SECP256R1, P256_SHARE), tail=b"\x00")), DecodeError),
    ("key_share repeated group", _set(KS, _shares((SECP256R1, P256_SHARE), (SECP256R1, P256_SHARE))),
     IllegalParameterError),
    ("key_share absent", _drop(KS), MissingExtensionError),
    ("signature_algorithms list length beyond the body", _set(SA, _u16_list(0x0403, list_size=4)), DecodeError),
    ("signature_algorithms absent", _drop(SA), MissingExtensionError),
    ("signature_algorithms_cert garbage", _append(SAC, b"\x01"), DecodeError),
    ("alpn list length below 3", _set(ALPN_EXT, _protocols(b"h2", list_size=2)), DecodeError),
    ("alpn no protocol in common", _set(ALPN_EXT, _protocols(b"spdy/3")), NoApplicationProtocolError),
    ("supported_versions absent", _drop(SV), ProtocolVersionError),
    ("renegotiation_info not empty", _append(ExtensionType.RENEGOTIATION_INFO, b"\x01\x00"), HandshakeFailureError),
    ("extended_master_secret with a body", _set(ExtensionType.EXTENDED_MASTER_SECRET, b"\x00"), DecodeError),
    ("early_data with a body", _append(ExtensionType.EARLY_DATA, b"\x00"), DecodeError),
    ("quic_transport_parameters", _append(ExtensionType.QUIC_TRANSPORT_PARAMETERS, b""), UnsupportedExtensionError),
    ("cookie never sent", _append(ExtensionType.COOKIE, b"\x00\x01\x00"), UnsupportedExtensionError),
    ("pre_shared_key malformed", _then(_append(PSK_MODES, _DHE_MODES), _append(PSK, b"\x01")), DecodeError),
    ("pre_shared_key then an unknown type", _then(_append(PSK_MODES, _DHE_MODES), _append(PSK, _PSK_BODY),
                                                  _append(0x7777, b"")), IllegalParameterError),
    ("pre_shared_key without modes", _append(PSK, _PSK_BODY), MissingExtensionError),
    ("psk_key_exchange_modes empty list", _append(PSK_MODES, b"\x00"), DecodeError),
]  # fmt: skip


@pytest.mark.parametrize(("case", "edit", "error"), [pytest.param(*case, id=case[0]) for case in RFC_CASES])
def test_rfc_handling(case: str, edit: Edit, error: type[TLSError]) -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.11
    # = type=test
    ## Servers MUST check that it is the last extension and otherwise fail the handshake with an
    ## "illegal_parameter" alert.
    hello = _client_hello(edit)
    context = OfferContext(alpn=tuple(name.encode() for name in ALPN))
    with pytest.raises(error):
        read_offer(hello, lenient=False, context=context)


def test_rfc_mode_server_refuses_what_s2n_ignores() -> None:
    server = engine_endpoint(_setup(POLICY, client=False, alpn=()), compat=Compat.rfc()).connection
    hook = _hook(_set(SG, _u16_list(SECP256R1, tail=b"\x00")))
    actor = engine_endpoint(_setup(POLICY, client=True, alpn=()), message_hook=hook).connection
    actor.start()
    with pytest.raises(DecodeError):
        server.receive_data(actor.data_to_send())


@pytest.mark.parametrize("lenient", [True, False])
def test_well_formed_hello_reads_the_same_both_ways(lenient: bool) -> None:
    offer = read_offer(_client_hello(lambda hello: hello), lenient=lenient)
    assert offer.server_name == "localhost" and offer.groups[0] == SECP256R1 and offer.shares
    # The RFC reading keeps the client's list; s2n's keeps what it selected (this server has no protocols).
    assert offer.alpn == (() if lenient else (b"h2", b"http/1.1"))


def test_every_type_s2n_parses_has_a_descriptor() -> None:
    described = {descriptor.extension_type for descriptor in CLIENT_HELLO_EXTENSIONS}
    assert described >= S2N_PARSED_EXTENSIONS
    assert len(described) == len(CLIENT_HELLO_EXTENSIONS)


_KNOWN = sorted({descriptor.extension_type for descriptor in CLIENT_HELLO_EXTENSIONS})
_BASE_HELLO = _client_hello(lambda hello: hello)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bodies=st.lists(st.tuples(st.sampled_from(_KNOWN), st.binary(max_size=40)), max_size=6, unique_by=lambda x: x[0]),
    lenient=st.booleans(),
)
def test_any_extension_bodies_raise_only_tls_errors(bodies: list[tuple[int, bytes]], lenient: bool) -> None:
    hello = _BASE_HELLO
    for extension_type, body in bodies:
        hello = _set(extension_type, body)(hello)
    with suppress(TLSError):
        read_offer(hello, lenient=lenient, context=OfferContext(alpn=(b"h2",)))


def test_s2n_body_reader_doctests() -> None:
    failures, tried = doctest.testmod(s2n_bodies)
    assert failures == 0 and tried > 5
