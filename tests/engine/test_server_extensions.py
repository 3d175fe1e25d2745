"""The extensions of a server's messages, malformed: the engine client reads them as the s2n client does.

An engine server is the actor; its ServerHello, HelloRetryRequest, EncryptedExtensions or
Certificate is rewritten inside it (``message_hook``: its transcript holds the bytes sent,
so what the clients accept completes the handshake), and runs in lockstep
(tests/engine/lockstep.py) against an s2n client and an engine client: both refuse the same
flight with the same alert bytes, or both answer with the same bytes (a second ClientHello
included) and report the same ALPN protocol. The descriptors the engine follows are in
``engine.handshake.server_extensions``; the RFC reading (``Compat.lenient_server_extensions``
off) is checked without s2n at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import Compat
from engine.errors import (
    DecodeError,
    IllegalParameterError,
    MissingExtensionError,
    TLSError,
    UnsupportedExtensionError,
)
from engine.handshake.server_extensions import SERVER_EXTENSIONS, ServerMessage, read_server_extensions
from engine.wire.extensions import Extension, ExtensionType
from engine.wire.handshake import (
    Certificate,
    EncryptedExtensions,
    HandshakeMessage,
    HandshakeType,
    ServerHello,
    decode_handshake,
    encode_handshake,
)
from tests.engine.lockstep import Verdict, engine_connection, engine_endpoint, lockstep
from tlsdiff.harness import Role, Setup, Status, endpoint_info, open_endpoint

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws

CLIENT_POLICY = "default_tls13"
RETRY_POLICY, RETRY_CERT = "20250211", "ecdsa-p384"  # accepts only P-384: a HelloRetryRequest for the client
CERT = "rsa-2048"
ALPN = ("h2", "http/1.1")
OK = b""
REFUSED = bytes.fromhex("15030300020100")

SV, KS, COOKIE = ExtensionType.SUPPORTED_VERSIONS, ExtensionType.KEY_SHARE, ExtensionType.COOKIE
ALPN_EXT = ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION

Edit = Callable[[HandshakeMessage], HandshakeMessage]


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def _with(extension_type: int, data: bytes | Callable[[bytes], bytes]) -> Edit:
    """Set (or append) an extension; ``data`` may compute the new body from the old one."""

    def edit(message: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(message, ServerHello | EncryptedExtensions)
        old = next((e.data for e in message.extensions if e.extension_type == extension_type), b"")
        new = Extension(extension_type, data(old) if callable(data) else data)
        if all(e.extension_type != extension_type for e in message.extensions):
            return replace(message, extensions=(*message.extensions, new))
        return replace(message, extensions=tuple(new if e.extension_type == extension_type else e
                                                 for e in message.extensions))  # fmt: skip

    return edit


def _without(extension_type: int) -> Edit:
    def edit(message: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(message, ServerHello)
        return replace(message, extensions=tuple(e for e in message.extensions if e.extension_type != extension_type))

    return edit


def _leaf_extension(extension_type: int, data: bytes) -> Edit:
    def edit(message: HandshakeMessage) -> HandshakeMessage:
        assert isinstance(message, Certificate)
        leaf = message.entries[0]
        leaf = replace(leaf, extensions=(*leaf.extensions, Extension(extension_type, data)))
        return replace(message, entries=(leaf, *message.entries[1:]))

    return edit


def _hook(msg_type: int, edit: Edit, *, retry: bool = False) -> Callable[[int, bytes], bytes]:
    def hook(sent_type: int, encoded: bytes) -> bytes:
        if sent_type != msg_type:
            return encoded
        message = decode_handshake(encoded)
        if isinstance(message, ServerHello) and message.is_hello_retry_request != retry:
            return encoded
        return encode_handshake(edit(message))

    return hook


def _run(
    msg_type: int, edit: Edit, *, retry: bool = False, alpn: tuple[str, ...] = ()
) -> tuple[Verdict, str | None, str | None]:
    server_policy, cert = (RETRY_POLICY, RETRY_CERT) if retry else (CLIENT_POLICY, CERT)
    actor_setup = Setup(Role.SERVER, server_policy, cert, 4, alpn=alpn)
    actor = engine_endpoint(actor_setup, message_hook=_hook(msg_type, edit, retry=retry))
    target = Setup(Role.CLIENT, CLIENT_POLICY, cert, 4, alpn=alpn)
    engine_client = engine_endpoint(target)
    with open_endpoint(target, "s2n") as s2n_client:
        verdict = lockstep(actor, s2n_client, engine_client)
        return verdict, endpoint_info(s2n_client).alpn, engine_client.connection.info().alpn


def _check(result: tuple[Verdict, str | None, str | None], expected: bytes) -> None:
    verdict, s2n_alpn, engine_alpn = result
    assert verdict.s2n.status == verdict.engine.status, verdict
    assert verdict.s2n.output == verdict.engine.output, verdict
    assert s2n_alpn == engine_alpn
    if expected == OK:
        assert not verdict.engine.ended, verdict
    else:
        assert verdict.engine.status is Status.FAILED and verdict.engine.output == expected, verdict


SH, EE, CT = HandshakeType.SERVER_HELLO, HandshakeType.ENCRYPTED_EXTENSIONS, HandshakeType.CERTIFICATE
# (case, message type, edit, expected)
CASES: list[tuple[str, int, Edit, bytes]] = [
    ("ServerHello unchanged", SH, lambda message: message, OK),
    ("ServerHello supported_versions trailing bytes", SH, _with(SV, b"\x03\x04\x00\x01"), OK),
    ("ServerHello supported_versions one byte", SH, _with(SV, b"\x03"), REFUSED),
    ("ServerHello supported_versions TLS 1.2", SH, _with(SV, b"\x03\x03"), REFUSED),
    ("ServerHello supported_versions unknown", SH, _with(SV, b"\x7f\x1c"), REFUSED),
    ("ServerHello key_share trailing bytes", SH, _with(KS, lambda body: body + b"\x00\x00"), OK),
    ("ServerHello key_share group only", SH, _with(KS, lambda body: body[:2]), REFUSED),
    ("ServerHello key_share length beyond the body", SH, _with(KS, lambda body: body[:-1]), REFUSED),
    ("ServerHello key_share empty", SH, _with(KS, b""), REFUSED),
    ("ServerHello key_share not a point", SH, _with(KS, lambda body: body[:4] + bytes(len(body) - 4)), REFUSED),
    ("ServerHello key_share for another group", SH, _with(KS, lambda body: b"\x00\x1d" + body[2:]), REFUSED),
    ("ServerHello key_share absent", SH, _without(KS), REFUSED),
    ("ServerHello pre_shared_key never offered", SH, _with(ExtensionType.PRE_SHARED_KEY, b"\x00\x00"), REFUSED),
    ("ServerHello server_name (ignored)", SH, _with(ExtensionType.SERVER_NAME, b""), OK),
    ("ServerHello cookie (ignored)", SH, _with(COOKIE, b"\x00\x01\x00"), OK),
    ("ServerHello ALPN (ignored)", SH, _with(ALPN_EXT, b"junk"), OK),
    ("ServerHello unknown type", SH, _with(0x7777, b"x"), OK),
    ("EncryptedExtensions unknown type", EE, _with(0x7777, b"x"), OK),
    ("EncryptedExtensions key_share (ignored)", EE, _with(KS, b""), OK),
    ("EncryptedExtensions supported_groups", EE, _with(ExtensionType.SUPPORTED_GROUPS, b"\x00\x02\x00\x17"), OK),
    ("EncryptedExtensions record_size_limit", EE, _with(ExtensionType.RECORD_SIZE_LIMIT, b"\x40\x00"), OK),
    ("EncryptedExtensions server_name with a body", EE, _with(ExtensionType.SERVER_NAME, b"xyz"), OK),
    ("EncryptedExtensions max_fragment_length never offered", EE, _with(ExtensionType.MAX_FRAGMENT_LENGTH, b"\x01"),
     REFUSED),
    ("EncryptedExtensions early_data never offered", EE, _with(ExtensionType.EARLY_DATA, b""), REFUSED),
    ("EncryptedExtensions quic_transport_parameters", EE, _with(ExtensionType.QUIC_TRANSPORT_PARAMETERS, b""),
     REFUSED),
    ("EncryptedExtensions ALPN never offered", EE, _with(ALPN_EXT, b"\x00\x03\x02h2"), REFUSED),
    ("Certificate status_request never offered", CT, _leaf_extension(ExtensionType.STATUS_REQUEST, b"\x01\x00"),
     REFUSED),
    ("Certificate SCTs never offered", CT, _leaf_extension(ExtensionType.SIGNED_CERTIFICATE_TIMESTAMP, b""), REFUSED),
    ("Certificate unknown type", CT, _leaf_extension(0x7777, b"x"), OK),
    ("Certificate supported_groups (ignored)", CT, _leaf_extension(ExtensionType.SUPPORTED_GROUPS, b""), OK),
]  # fmt: skip


@pytest.mark.parametrize(("case", "msg_type", "edit", "expected"), [pytest.param(*c, id=c[0]) for c in CASES])
def test_server_message_extensions_as_s2n(case: str, msg_type: int, edit: Edit, expected: bytes) -> None:
    _check(_run(msg_type, edit), expected)


RETRY_CASES: list[tuple[str, Edit, bytes]] = [
    ("unchanged", lambda message: message, OK),
    ("cookie", _with(COOKIE, b"\x00\x03abc"), OK),
    ("cookie with trailing bytes (not echoed)", _with(COOKIE, b"\x00\x03abc\xff\xff"), OK),
    ("empty cookie (s2n: S2N_ERR_NULL)", _with(COOKIE, b"\x00\x00"), REFUSED),
    ("cookie longer than its extension", _with(COOKIE, b"\x00\x09abc"), REFUSED),
    ("cookie one byte", _with(COOKIE, b"\x00"), REFUSED),
    ("key_share trailing bytes", _with(KS, lambda body: body + b"\x00"), OK),
    ("key_share one byte", _with(KS, b"\x00"), REFUSED),
    ("key_share absent", _without(KS), REFUSED),
    ("supported_versions trailing bytes", _with(SV, b"\x03\x04\x04"), OK),
    ("supported_versions absent", _without(SV), REFUSED),
    ("server_name (ignored)", _with(ExtensionType.SERVER_NAME, b""), OK),
    ("unknown type", _with(0x7777, b""), OK),
]


@pytest.mark.parametrize(("case", "edit", "expected"), [pytest.param(*c, id=c[0]) for c in RETRY_CASES])
def test_hello_retry_request_extensions_as_s2n(case: str, edit: Edit, expected: bytes) -> None:
    _check(_run(SH, edit, retry=True), expected)


ALPN_CASES: list[tuple[str, bytes, bytes]] = [
    ("h2", b"\x00\x03\x02h2", OK),
    ("not offered: taken as it is", b"\x00\x07\x06spdy/3", OK),
    ("two protocols: the first", b"\x00\x0c\x02h2\x08http/1.1", OK),
    ("trailing bytes", b"\x00\x03\x02h2\xff", OK),
    ("list length beyond the body: ignored", b"\x00\x09\x02h2", OK),
    ("list length below 3: ignored", b"\x00\x02\x01a", OK),
    ("empty name: none", b"\x00\x03\x00ab", OK),
    ("name overruns the body", b"\x00\x03\x05h2", REFUSED),
    ("one byte", b"\x00", REFUSED),
    ("empty body", b"", REFUSED),
]


@pytest.mark.parametrize(("case", "body", "expected"), [pytest.param(*c, id=c[0]) for c in ALPN_CASES])
def test_alpn_answer_as_s2n(case: str, body: bytes, expected: bytes) -> None:
    _check(_run(EE, _with(ALPN_EXT, body), alpn=ALPN), expected)


# --- the RFC reading (Compat.lenient_server_extensions off), without s2n ------------------------------------------

_TLS13 = Extension(SV, b"\x03\x04")
REQUESTED = frozenset({SV, KS, ExtensionType.SUPPORTED_GROUPS, ExtensionType.SERVER_NAME, ALPN_EXT})
RFC_CASES: list[tuple[str, ServerMessage, tuple[Extension, ...], type[TLSError]]] = [
    ("supported_versions trailing bytes", ServerMessage.SERVER_HELLO, (Extension(SV, b"\x03\x04\x00"),), DecodeError),
    ("key_share trailing bytes", ServerMessage.SERVER_HELLO,
     (Extension(KS, b"\x00\x17\x00\x01\x04\x00"),), DecodeError),
    ("server_name in a ServerHello", ServerMessage.SERVER_HELLO, (Extension(ExtensionType.SERVER_NAME, b""),),
     IllegalParameterError),
    ("unknown type never requested", ServerMessage.SERVER_HELLO, (Extension(0x7777, b""),), UnsupportedExtensionError),
    ("empty cookie", ServerMessage.HELLO_RETRY_REQUEST, (_TLS13, Extension(COOKIE, b"\x00\x00")), DecodeError),
    ("cookie with trailing bytes", ServerMessage.HELLO_RETRY_REQUEST, (_TLS13, Extension(COOKIE, b"\x00\x01a\x00")),
     DecodeError),
    ("HelloRetryRequest without supported_versions", ServerMessage.HELLO_RETRY_REQUEST,
     (Extension(KS, b"\x00\x17"),), MissingExtensionError),
    ("key_share in EncryptedExtensions", ServerMessage.ENCRYPTED_EXTENSIONS, (Extension(KS, b""),),
     IllegalParameterError),
    ("server_name acknowledgement with a body", ServerMessage.ENCRYPTED_EXTENSIONS,
     (Extension(ExtensionType.SERVER_NAME, b"x"),), DecodeError),
    ("two ALPN protocols", ServerMessage.ENCRYPTED_EXTENSIONS, (Extension(ALPN_EXT, b"\x00\x06\x02h2\x02h3"),),
     DecodeError),
    ("record_size_limit never requested", ServerMessage.ENCRYPTED_EXTENSIONS,
     (Extension(ExtensionType.RECORD_SIZE_LIMIT, b"\x40\x00"),), UnsupportedExtensionError),
    ("status_request never requested", ServerMessage.CERTIFICATE,
     (Extension(ExtensionType.STATUS_REQUEST, b""),), UnsupportedExtensionError),
]  # fmt: skip


@pytest.mark.parametrize(("case", "message", "extensions", "error"), [pytest.param(*c, id=c[0]) for c in RFC_CASES])
def test_rfc_reading(
    case: str, message: ServerMessage, extensions: tuple[Extension, ...], error: type[TLSError]
) -> None:
    with pytest.raises(error):
        read_server_extensions(message, extensions, REQUESTED, lenient=False)
    if message is not ServerMessage.HELLO_RETRY_REQUEST:  # nothing else is required
        read_server_extensions(message, (), REQUESTED, lenient=False)


def test_rfc_mode_client_refuses_what_s2n_ignores() -> None:
    actor = engine_connection(CLIENT_POLICY, CERT, 4, client=False, message_hook=_hook(EE, _with(0x7777, b"")))
    client = engine_connection(CLIENT_POLICY, CERT, 4, client=True, compat=Compat.rfc())
    client.start()
    actor.receive_data(client.data_to_send())
    with pytest.raises(UnsupportedExtensionError):
        client.receive_data(actor.data_to_send())


@settings(max_examples=300, deadline=None)
@given(
    message=st.sampled_from(list(ServerMessage)),
    bodies=st.lists(
        st.tuples(st.sampled_from(sorted({d.extension_type for d in SERVER_EXTENSIONS} | {0x7777})),
                  st.binary(max_size=24)),
        max_size=5, unique_by=lambda pair: pair[0],
    ),
    lenient=st.booleans(),
)  # fmt: skip
def test_any_bodies_raise_only_tls_errors(
    message: ServerMessage, bodies: list[tuple[int, bytes]], lenient: bool
) -> None:
    extensions = tuple(Extension(kind, body) for kind, body in bodies)
    with suppress(TLSError):
        read_server_extensions(message, extensions, REQUESTED, lenient=lenient)
