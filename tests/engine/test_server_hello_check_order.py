"""A ServerHello's checks in s2n-tls's order: its extensions (by the list its version picks) before its version.

``s2n_server_hello_parse`` (tls/s2n_server_hello.c:95-264) reads legacy_version and the random
(:106-107; a HelloRetryRequest's random and legacy_version are checked at once, :117-135), the
session id (:137-139), the suite (:141) and the compression method (:144, refused at :156), then
the extensions (:164). ``s2n_server_extensions_recv`` (tls/s2n_server_extensions.c:55-79) parses
the block, processes supported_versions first and then the list of the version it leaves: TLS
1.3's (supported_versions, key_share, pre_shared_key) or, without the extension on a first
ServerHello, TLS 1.2's (tls/extensions/s2n_extension_type_lists.c:87-99), each response the
ClientHello did not ask for refused (tls/extensions/s2n_extension_type.c:169-171). Only then is
the version decided (:177-251): TLS 1.3 checks the session id echo (:191) and the suite (:194);
anything else is the legacy_version, refused for a downgrade sentinel (:201) and then, with the
one alert s2n sends as itself (protocol_version), outside the policy's range (:217-220).

The finding (``client_diff``, ``alert/client/flight0/alert/Alert.level``): a ServerHello whose
supported_versions type was overwritten with max_fragment_length's, never requested. s2n refused
the unrequested response (close_notify); the engine read the TLS 1.3 list, which ignores the
type, and refused the version (protocol_version). Pinned as fixed:
``corpus/regression/client_diff/server-hello-unrequested-extension-before-version.bin``.

An engine server is the actor; its ServerHello is rewritten inside it (``message_hook``: its
transcript holds what it sent, so an accepted message completes the handshake), and its flights
go to an s2n client and an engine client, compared flight by flight (status, message, bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from engine.config import Compat
from engine.errors import IllegalParameterError, ProtocolVersionError, UnsupportedExtensionError
from engine.handshake.server_extensions import ServerMessage, server_hello_list
from engine.instrument import Instrumentation
from engine.wire.extensions import Extension, ExtensionType
from engine.wire.handshake import HandshakeType, ServerHello, decode_handshake, encode_handshake
from tlsdiff.harness import Outcome, Role, Setup, Status, engine_config, open_endpoint, open_engine

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws

TLS13_ONLY, CERT = "20250211", "ecdsa-p384"  # minimum TLS 1.3: no version but 1.3 is in range
RETRY_CLIENT = "default_tls13"  # its P-256 share makes the 20250211 server ask for P-384
CLOSE_NOTIFY = bytes.fromhex("15030300020100")  # s2n's generic answer to a fatal error
PROTOCOL_VERSION = bytes.fromhex("15030300020246")
UNSUPPORTED_EXTENSION = bytes.fromhex("1503030002026e")  # the RFC reading's alert
ILLEGAL_PARAMETER = bytes.fromhex("1503030002022f")
TLS12_SUITE_POLICY = "CloudFront-Upstream-2025"  # TLS 1.2 and 1.3 suites, TLS_RSA_WITH_AES_128_CBC_SHA256 among them
TLS12_SUITE = 0x003C
_MAX_FLIGHTS = 6

SV, KS, MFL = ExtensionType.SUPPORTED_VERSIONS, ExtensionType.KEY_SHARE, ExtensionType.MAX_FRAGMENT_LENGTH
Edit = Callable[[ServerHello], ServerHello]


def _edited(*, drop: tuple[int, ...] = (), add: tuple[Extension, ...] = (), first: tuple[Extension, ...] = ()) -> Edit:
    """The ServerHello without the ``drop`` types, with ``first`` before its extensions and ``add`` after them."""

    def edit(hello: ServerHello) -> ServerHello:
        kept = tuple(extension for extension in hello.extensions if extension.extension_type not in drop)
        return replace(hello, extensions=(*first, *kept, *add))

    return edit


def _retyped(old: int, new: int) -> Edit:
    def edit(hello: ServerHello) -> ServerHello:
        retyped = (Extension(new, e.data) if e.extension_type == old else e for e in hello.extensions)
        return replace(hello, extensions=tuple(retyped))

    return edit


def _fields(edit: Edit, **changes: object) -> Edit:
    return lambda hello: replace(edit(hello), **changes)  # type: ignore[arg-type]


def _hook(edit: Edit) -> Callable[[int, bytes], bytes]:
    """The server's (non-retry) ServerHello, edited before the server hashes it."""

    def hook(message_type: int, encoded: bytes) -> bytes:
        if message_type != HandshakeType.SERVER_HELLO:
            return encoded
        hello = decode_handshake(encoded)
        if not isinstance(hello, ServerHello) or hello.is_hello_retry_request:
            return encoded
        return encode_handshake(edit(hello))

    return hook


@dataclass(frozen=True)
class Run:
    """The two clients' last outcomes, and the flight (of the server's) they ended or parted at."""

    s2n: Outcome
    engine: Outcome
    flight: int

    def agree(self) -> bool:
        """Same status, same message, same bytes."""
        ours, theirs = self.engine, self.s2n
        return (ours.status, ours.last_message, ours.output) == (theirs.status, theirs.last_message, theirs.output)


def _run(edit: Edit, *, policy: str = TLS13_ONLY, compat: Compat | None = None, server_policy: str = TLS13_ONLY) -> Run:
    """Lockstep an engine server whose ServerHello is ``edit``-ed against an s2n client and an engine client."""
    server = open_engine(Setup(Role.SERVER, server_policy, CERT, 7), instrumentation=Instrumentation(_hook(edit)))
    target = Setup(Role.CLIENT, policy, CERT, 7)
    config = None if compat is None else replace(engine_config(target), compat=compat)
    engine_client = open_engine(target, config=config)
    with open_endpoint(target, "s2n") as s2n_client:
        s2n, engine = s2n_client.start(), engine_client.start()
        if s2n.output != engine.output:
            raise AssertionError("the two ClientHellos differ")
        actor = server.deliver(s2n.output)
        for flight in range(_MAX_FLIGHTS):
            if not actor.output or actor.ended:
                break
            s2n, engine = s2n_client.deliver(actor.output), engine_client.deliver(actor.output)
            if s2n.ended or engine.ended or s2n.output != engine.output:
                return Run(s2n, engine, flight)
            actor = server.deliver(s2n.output)
        return Run(s2n, engine, flight)


def _refused(run: Run, alert: bytes) -> None:
    assert run.agree(), run
    assert run.flight == 0 and run.engine.status is Status.FAILED, run
    assert run.engine.last_message == "SERVER_HELLO" and run.engine.output == alert, run


# (case, the ServerHello, what both clients write: an alert, or None for a completed handshake)
CASES: list[tuple[str, Edit, bytes | None]] = [
    # The finding: no supported_versions, so s2n's TLS 1.2 list, where an unrequested response is refused.
    ("supported_versions retyped as max_fragment_length", _retyped(SV, MFL), CLOSE_NOTIFY),
    ("unrequested max_fragment_length, no supported_versions",
     _edited(drop=(SV,), add=(Extension(MFL, b"\x01"),)), CLOSE_NOTIFY),
    # supported_versions is processed first: its own refusal comes before the extension's.
    ("unrequested max_fragment_length, supported_versions TLS 1.2",
     _edited(drop=(SV,), first=(Extension(SV, b"\x03\x03"),), add=(Extension(MFL, b"\x01"),)), CLOSE_NOTIFY),
    # With TLS 1.3 selected, the TLS 1.3 list: types it lacks are ignored (s2n_extension_list.c:105-116).
    ("unrequested max_fragment_length alone", _edited(add=(Extension(MFL, b"\x01"),)), None),
    ("no supported_versions alone", _edited(drop=(SV,)), PROTOCOL_VERSION),
    # The TLS 1.2 list's own receive functions and request checks, before the version.
    ("unrequested session_ticket, no supported_versions",
     _edited(drop=(SV,), add=(Extension(ExtensionType.SESSION_TICKET, b""),)), CLOSE_NOTIFY),
    ("unrequested ALPN, no supported_versions",
     _edited(drop=(SV,), add=(Extension(ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION, b"\x00\x03\x02h2"),)),
     CLOSE_NOTIFY),
    ("renegotiation_info not empty, no supported_versions",
     _edited(drop=(SV,), add=(Extension(ExtensionType.RENEGOTIATION_INFO, b"\x01\x00"),)), CLOSE_NOTIFY),
    ("empty renegotiation_info, no supported_versions",
     _edited(drop=(SV,), add=(Extension(ExtensionType.RENEGOTIATION_INFO, b"\x00"),)), PROTOCOL_VERSION),
    ("extended_master_secret with a body, no supported_versions",
     _edited(drop=(SV,), add=(Extension(ExtensionType.EXTENDED_MASTER_SECRET, b"\x00"),)), CLOSE_NOTIFY),
    ("server_name acknowledged, no supported_versions",
     _edited(drop=(SV,), add=(Extension(ExtensionType.SERVER_NAME, b""),)), PROTOCOL_VERSION),
    # TLS 1.3's extensions are not in the TLS 1.2 list: not read at all.
    ("broken key_share, no supported_versions", _edited(drop=(SV, KS), add=(Extension(KS, b"\x00"),)),
     PROTOCOL_VERSION),
    ("pre_shared_key, no supported_versions",
     _edited(drop=(SV,), add=(Extension(ExtensionType.PRE_SHARED_KEY, b"\x00\x00"),)), PROTOCOL_VERSION),
    ("pre_shared_key with supported_versions", _edited(add=(Extension(ExtensionType.PRE_SHARED_KEY, b"\x00\x00"),)),
     CLOSE_NOTIFY),
    # The legacy_version decision: the downgrade sentinel before the range; 0x0304 is in range.
    ("TLS 1.2 downgrade sentinel, no supported_versions",
     lambda h: replace(_edited(drop=(SV,))(h), random=h.random[:24] + b"DOWNGRD\x01"), CLOSE_NOTIFY),
    ("TLS 1.1 downgrade sentinel, legacy_version TLS 1.1",
     lambda h: replace(_edited(drop=(SV,))(h), legacy_version=0x0302, random=h.random[:24] + b"DOWNGRD\x00"),
     CLOSE_NOTIFY),
    ("TLS 1.1 sentinel with legacy_version TLS 1.2: no downgrade",
     lambda h: replace(_edited(drop=(SV,))(h), random=h.random[:24] + b"DOWNGRD\x00"), PROTOCOL_VERSION),
    ("legacy_version TLS 1.3, no supported_versions", _fields(_edited(drop=(SV,)), legacy_version=0x0304),
     CLOSE_NOTIFY),
    ("legacy_version TLS 1.3, other session id, no supported_versions",
     _fields(_edited(drop=(SV,)), legacy_version=0x0304, legacy_session_id_echo=b""), CLOSE_NOTIFY),
    ("legacy_version 0x0305, no supported_versions", _fields(_edited(drop=(SV,)), legacy_version=0x0305),
     PROTOCOL_VERSION),
    # The suite and the session id are checked in the TLS 1.3 branch only: not reached.
    ("suite not offered, no supported_versions", _fields(_edited(drop=(SV,)), cipher_suite=0x1305), PROTOCOL_VERSION),
    ("session id not echoed, no supported_versions", _fields(_edited(drop=(SV,)), legacy_session_id_echo=b"\x01"),
     PROTOCOL_VERSION),
]  # fmt: skip


@pytest.mark.parametrize(("case", "edit", "alert"), [pytest.param(*c, id=c[0]) for c in CASES])
def test_both_clients_check_the_server_hello_in_one_order(case: str, edit: Edit, alert: bytes | None) -> None:
    run = _run(edit)
    if alert is None:
        assert run.agree() and run.engine.status is run.s2n.status is Status.COMPLETE, run
        return
    _refused(run, alert)
    # A refusal's error names the same failure (errors_table) only where the two share it; the bytes are the contract.
    if alert == PROTOCOL_VERSION:
        assert run.s2n.error == "S2N_ERR_PROTOCOL_VERSION_UNSUPPORTED", run


def test_the_finding_is_an_unrequested_extension_on_both_sides() -> None:
    run = _run(_retyped(SV, MFL))
    _refused(run, CLOSE_NOTIFY)
    assert (run.s2n.error, run.engine.error) == ("S2N_ERR_UNSUPPORTED_EXTENSION", UnsupportedExtensionError.__name__)


def test_a_retried_handshake_reads_its_server_hello_with_the_tls13_list() -> None:
    # After a HelloRetryRequest the version is TLS 1.3 already (tls/extensions/s2n_server_supported_versions.c:88):
    # without supported_versions the TLS 1.3 list still applies, and ignores the unrequested type.
    run = _run(_edited(drop=(SV,), add=(Extension(MFL, b"\x01"),)), policy=RETRY_CLIENT)
    assert run.agree() and run.engine.status is run.s2n.status is Status.COMPLETE, run
    assert "HELLO_RETRY_REQUEST" in run.engine.handshake_type, run


def test_rfc_reading_keeps_its_own_order() -> None:
    # Compat.lenient_server_extensions off: one ServerHello list, any unrequested type refused
    # (unsupported_extension, RFC 8446 4.2), and a ServerHello without TLS 1.3 refused on its version.
    finding = _run(_retyped(SV, MFL), compat=Compat.rfc())
    assert finding.engine.status is Status.FAILED and finding.engine.output == UNSUPPORTED_EXTENSION, finding
    assert finding.engine.error == UnsupportedExtensionError.__name__
    downgrade = _run(lambda h: replace(_edited(drop=(SV,))(h), random=h.random[:24] + b"DOWNGRD\x01"),
                     compat=Compat.rfc())  # fmt: skip
    assert downgrade.engine.error == ProtocolVersionError.__name__ and downgrade.engine.output == PROTOCOL_VERSION


@pytest.mark.parametrize(
    ("extensions", "retried", "expected"),
    [
        ((Extension(SV, b"\x03\x04"), Extension(KS, b"")), False, ServerMessage.SERVER_HELLO),
        ((Extension(SV, b"\x03\x03"),), False, ServerMessage.SERVER_HELLO),  # refused as it is read
        ((Extension(KS, b""),), False, ServerMessage.SERVER_HELLO_TLS12),
        ((), False, ServerMessage.SERVER_HELLO_TLS12),
        ((Extension(KS, b""),), True, ServerMessage.SERVER_HELLO),
    ],
)
def test_the_list_is_chosen_by_supported_versions(
    extensions: tuple[Extension, ...], retried: bool, expected: ServerMessage
) -> None:
    assert server_hello_list(extensions, retried=retried) is expected


def _tls12_suite_run(compat: Compat | None = None) -> Run:
    edit = _fields(_edited(), cipher_suite=TLS12_SUITE)
    return _run(edit, policy=TLS12_SUITE_POLICY, server_policy=TLS12_SUITE_POLICY, compat=compat)


def test_a_tls12_suite_with_tls13_is_refused_by_the_engine_and_taken_by_s2n() -> None:
    # S2N-6 (docs/findings.md): s2n_set_cipher_as_client (tls/s2n_cipher_suites.c:1105-1175) takes any suite
    # of its policy, a TLS 1.2 one with TLS 1.3 too, and fails on the first protected record, read as CBC.
    run = _tls12_suite_run()
    assert run.flight == 0 and run.engine.output == run.s2n.output == CLOSE_NOTIFY, run
    assert (run.engine.error, run.engine.last_message) == (IllegalParameterError.__name__, "SERVER_HELLO"), run
    assert (run.s2n.error, run.s2n.last_message) == ("S2N_ERR_SAFETY", "ENCRYPTED_EXTENSIONS"), run
    rfc = _tls12_suite_run(Compat.rfc())
    assert rfc.engine.output == ILLEGAL_PARAMETER and rfc.engine.last_message == "SERVER_HELLO", rfc
