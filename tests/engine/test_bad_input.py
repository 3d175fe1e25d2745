"""Bad input: the engine rejects at the same point as s2n-tls, with the same bytes on the wire.

Each case runs in lockstep (tests/engine/lockstep.py): the same bytes reach an s2n
target and an engine target; both must fail on the same flight and write the same
alert record (s2n's generic close_notify, ``Compat.generic_close_notify``), or both
must go on with identical answers. The engine's typed error is checked as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from engine.config import CertifiedKey, Compat, EngineConfig
from engine.connection import TLSConnection
from engine.errors import AlertDescription, IllegalParameterError, RecordOverflowError, TLSError, UnexpectedMessageError
from engine.instrument import MessageHook
from engine.wire.extensions import Extension, ExtensionType, SignatureSchemeList, SupportedGroups
from engine.wire.handshake import ClientHello, HandshakeType, decode_handshake, encode_handshake
from tests.engine.lockstep import Verdict, engine_connection, engine_endpoint, run_lockstep
from tlsdiff.harness import Role, Setup, Status, engine_config

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws
POLICY = "default_tls13"
TLS13_ONLY = "CloudFront-TLS-1-3-2025"
CLOSE_NOTIFY_TLS12 = bytes.fromhex("15030300020100")


def _server_case(
    mutate: Callable[[int, bytes], bytes] | None = None,
    *,
    policy: str = POLICY,
    message_hook: MessageHook | None = None,
    cert_type: str = "ecdsa-p256",
) -> Verdict:
    actor = engine_endpoint(Setup(Role.CLIENT, policy, cert_type, 3), message_hook=message_hook)
    return run_lockstep(actor, Setup(Role.SERVER, policy, cert_type, 3), mutate)


def _client_hello_edit(edit: Callable[[ClientHello], ClientHello]) -> Callable[[int, bytes], bytes]:
    """Mutate the first flight's ClientHello (one plaintext record) and re-frame it."""

    def mutate(flight: int, data: bytes) -> bytes:
        if flight != 0:
            return data
        message = decode_handshake(data[5:])
        assert isinstance(message, ClientHello)
        body = encode_handshake(edit(message))
        return data[:3] + len(body).to_bytes(2, "big") + body

    return mutate


def _replace_extension(hello: ClientHello, extension_type: int, data: bytes | None) -> ClientHello:
    extensions = [e for e in hello.extensions if e.extension_type != extension_type]
    if data is not None:
        position = next(i for i, e in enumerate(hello.extensions) if e.extension_type == extension_type)
        extensions.insert(position, Extension(extension_type, data))
    return replace(hello, extensions=tuple(extensions))


def _zero_own_finished(msg_type: int, encoded: bytes) -> bytes:
    """A message hook: the actor's Finished of zeros (the right length, the wrong value).

    The peer checks a Finished against the transcript before it, which the edit does not reach."""
    return encoded[:4] + bytes(len(encoded) - 4) if msg_type == HandshakeType.FINISHED else encoded


def _assert_same_rejection(verdict: Verdict) -> None:
    assert verdict.s2n.status is Status.FAILED and verdict.engine.status is Status.FAILED, verdict
    assert verdict.s2n.output == verdict.engine.output, verdict


def _assert_same_answers(verdict: Verdict) -> None:
    assert not verdict.s2n.ended and not verdict.engine.ended, verdict
    assert verdict.s2n.output == verdict.engine.output


def test_control_a_clean_handshake_goes_through_both() -> None:
    _assert_same_answers(_server_case())


def test_wrong_legacy_version_is_ignored_by_both() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.1
    # = type=test
    ## servers MUST NOT use the ClientHello.legacy_version value for version negotiation
    mutate = _client_hello_edit(lambda hello: replace(hello, legacy_version=0x0301))
    _assert_same_answers(_server_case(mutate))


def test_missing_supported_versions_on_a_tls13_only_policy() -> None:
    mutate = _client_hello_edit(lambda hello: _replace_extension(hello, ExtensionType.SUPPORTED_VERSIONS, None))
    verdict = _server_case(mutate, policy=TLS13_ONLY)
    _assert_same_rejection(verdict)
    assert verdict.engine.output == bytes([21, 3, 3, 0, 2, 2, AlertDescription.PROTOCOL_VERSION])


def test_no_common_cipher_suite() -> None:
    mutate = _client_hello_edit(lambda hello: replace(hello, cipher_suites=(0xC02B, 0x00FF)))
    verdict = _server_case(mutate, policy=TLS13_ONLY)
    _assert_same_rejection(verdict)
    assert verdict.engine.output == CLOSE_NOTIFY_TLS12


def test_no_common_group() -> None:
    groups = SupportedGroups((0x001E,)).encode()  # x448 only
    mutate = _client_hello_edit(lambda hello: _replace_extension(hello, ExtensionType.SUPPORTED_GROUPS, groups))
    _assert_same_rejection(_server_case(mutate))


def test_key_share_for_a_group_not_offered_then_second_hello_changing_groups() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
    # = type=test
    ## the client MUST send the same ClientHello without modification, except as follows
    # The P-256 share is not backed by supported_groups: both servers ignore it and send the same
    # HelloRetryRequest for x25519 (flight 0). The actor's second ClientHello carries its original
    # supported_groups: a changed extension, which both reject (flight 1).
    groups = SupportedGroups((0x001D, 0x0018)).encode()
    mutate = _client_hello_edit(lambda hello: _replace_extension(hello, ExtensionType.SUPPORTED_GROUPS, groups))
    verdict = _server_case(mutate)
    assert verdict.flights == 1
    _assert_same_rejection(verdict)
    assert verdict.engine.error == "IllegalParameterError"


def test_unknown_record_type() -> None:
    verdict = _server_case(lambda flight, data: bytes([0x18]) + data[1:] if flight == 0 else data)
    _assert_same_rejection(verdict)
    assert verdict.engine.error == UnexpectedMessageError.__name__


def test_message_out_of_order() -> None:
    finished = bytes([0x16, 3, 1, 0, 8, 20, 0, 0, 4, 1, 2, 3, 4])
    verdict = _server_case(lambda flight, data: finished if flight == 0 else data)
    _assert_same_rejection(verdict)


@pytest.mark.parametrize("payload", [b"\x02", b"\x01\x01"])
def test_change_cipher_spec_with_wrong_content(payload: bytes) -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-5
    # = type=test
    ## An implementation which receives any other change_cipher_spec value or which receives a protected
    ## change_cipher_spec record MUST abort the handshake with an "unexpected_message" alert.
    record = bytes([20, 3, 3, 0, len(payload)]) + payload
    verdict = _server_case(lambda flight, data: record + data if flight == 0 else data)
    _assert_same_rejection(verdict)


def test_bad_client_finished() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.4.4
    # = type=test
    ## Recipients of Finished messages MUST verify that the contents are correct and if incorrect MUST terminate the
    ## connection with a "decrypt_error" alert.
    verdict = _server_case(message_hook=_zero_own_finished)
    _assert_same_rejection(verdict)
    assert verdict.engine.error == "DecryptError"


def test_failed_decryption_of_the_client_finished() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-5.2
    # = type=test
    ## If the decryption fails, the receiver MUST terminate the connection with a "bad_record_mac" alert.
    def corrupt_last_byte(flight: int, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if flight == 1 else data

    verdict = _server_case(corrupt_last_byte)
    _assert_same_rejection(verdict)
    assert verdict.engine.error == "BadRecordMacError"


def test_engine_sends_rfc_alerts_when_asked() -> None:
    # The RFC behaviour stays one switch away: the specific alert, fatal.
    target = engine_connection(POLICY, "ecdsa-p256", 3, client=False, compat=Compat.rfc())
    with pytest.raises(TLSError):
        target.receive_data(bytes([0x18, 3, 3, 0, 1, 0]))
    assert target.data_to_send() == bytes([21, 3, 1, 0, 2, 2, AlertDescription.UNEXPECTED_MESSAGE])


def test_oversized_client_hello_record_is_accepted_as_s2n_does() -> None:
    padding = Extension(ExtensionType.PADDING, bytes(17000))
    mutate = _client_hello_edit(lambda hello: replace(hello, extensions=(*hello.extensions, padding)))
    verdict = _server_case(mutate)
    assert verdict.flights == 0  # the actor's transcript breaks; both servers answered alike
    _assert_same_answers(verdict)


def test_plaintext_record_overflow_is_rejected_in_rfc_mode() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-5.1
    # = type=test
    ## The length MUST NOT exceed 2^14 bytes.
    target = engine_connection(POLICY, "ecdsa-p256", 3, client=False, compat=Compat.rfc())
    with pytest.raises(RecordOverflowError):
        target.receive_data(bytes([22, 3, 1]) + (2**14 + 1).to_bytes(2, "big") + bytes(2**14 + 1))


ACTOR_SERVER = Setup(Role.SERVER, POLICY, "rsa-2048", 4)


def _client_case(*, message_hook: MessageHook | None = None, config: EngineConfig | None = None) -> Verdict:
    actor = engine_endpoint(ACTOR_SERVER, config=config, message_hook=message_hook)
    return run_lockstep(actor, Setup(Role.CLIENT, POLICY, "rsa-2048", 4))


def test_bad_certificate_verify() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.4.3
    # = type=test
    ## If the verification fails, the receiver MUST terminate the handshake with a "decrypt_error" alert.
    config = engine_config(ACTOR_SERVER)
    certificate = config.certificates[0]
    sign = certificate.signer.sign_digest

    class Corrupting:
        def sign_digest(self, *args: object) -> bytes:
            signature = sign(*args)  # type: ignore[arg-type]
            return signature[:-1] + bytes([signature[-1] ^ 1])

    corrupted = CertifiedKey(certificate.chain, Corrupting())
    verdict = _client_case(config=replace(config, certificates=(corrupted,)))
    _assert_same_rejection(verdict)
    assert verdict.engine.error == "DecryptError"


def test_bad_server_finished() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.4.4
    # = type=test
    ## Recipients of Finished messages MUST verify that the contents are correct and if incorrect MUST terminate the
    ## connection with a "decrypt_error" alert.
    verdict = _client_case(message_hook=_zero_own_finished)
    _assert_same_rejection(verdict)
    assert verdict.engine.error == "DecryptError"


def test_second_hello_with_a_new_random_is_accepted_by_s2n_and_refused_in_rfc_mode() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
    # = type=test
    ## the client MUST send the same ClientHello without modification, except as follows
    # s2n's own answer to the same edit: tests/engine/test_hello_retry_input.py ("random changed").
    server = _after_a_second_hello_with_a_new_random(Compat.s2n())
    assert "HELLO_RETRY_REQUEST" in server.handshake_type_name and server.error is None
    with pytest.raises(IllegalParameterError):
        _after_a_second_hello_with_a_new_random(replace(Compat.s2n(), lenient_second_client_hello=False))


def _after_a_second_hello_with_a_new_random(compat: Compat) -> TLSConnection:
    """An engine server (P-384 only: it asks for a retry) after the client's second ClientHello, whose random
    the client changed (inside it: its own transcript holds the bytes sent)."""
    hellos = 0

    def new_random(msg_type: int, encoded: bytes) -> bytes:
        nonlocal hellos
        hellos += msg_type == HandshakeType.CLIENT_HELLO
        if msg_type != HandshakeType.CLIENT_HELLO or hellos == 1:
            return encoded
        hello = decode_handshake(encoded)
        assert isinstance(hello, ClientHello)
        return encode_handshake(replace(hello, random=bytes(32)))

    client = engine_connection(POLICY, "ecdsa-p384", 3, client=True, message_hook=new_random)
    server = engine_connection("20250211", "ecdsa-p384", 3, client=False, compat=compat)
    client.start()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())  # the HelloRetryRequest
    server.receive_data(client.data_to_send())
    return server


def test_zero_length_handshake_record() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-5.1
    # = type=test
    ## Implementations MUST NOT send zero-length fragments of Handshake types, even if those fragments contain
    ## padding.
    verdict = _server_case(lambda flight, data: bytes([22, 3, 1, 0, 0]) + data if flight == 0 else data)
    _assert_same_rejection(verdict)


def test_handshake_message_split_across_a_key_change() -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-5.1
    # = type=test
    ## Handshake messages MUST NOT span key changes.
    partial_finished = bytes([22, 3, 3, 0, 2, 20, 0])
    verdict = _server_case(lambda flight, data: data + partial_finished if flight == 0 else data)
    _assert_same_rejection(verdict)
    assert verdict.engine.error == "UnexpectedMessageError"


@pytest.mark.parametrize(("actor", "after_the_handshake"), [(Role.CLIENT, 2), (Role.SERVER, 1)],
                         ids=["server-target", "client-target"])  # fmt: skip
def test_change_cipher_spec_after_the_handshake_is_refused_as_s2n_does(actor: Role, after_the_handshake: int) -> None:
    # = https://www.rfc-editor.org/rfc/rfc8446#section-5
    # = type=test
    ## An implementation may receive an unencrypted record of type change_cipher_spec consisting of the single
    ## byte value 0x01 at any time after the first ClientHello message has been sent or received and before the
    ## peer's Finished message has been received and MUST simply drop it without further processing.
    # After the handshake the bridged s2n refuses one (tls/s2n_record_read.c, s2n_is_tls13_plaintext_content),
    # with a close_notify under its application keys; so does the engine (RFC and s2n agree here).
    target = Role.SERVER if actor is Role.CLIENT else Role.CLIENT

    def mutate(flight: int, data: bytes) -> bytes:
        return data + bytes([20, 3, 3, 0, 1, 1]) if flight == after_the_handshake else data

    actor_endpoint = engine_endpoint(Setup(actor, POLICY, "ecdsa-p256", 3))
    verdict = run_lockstep(actor_endpoint, Setup(target, POLICY, "ecdsa-p256", 3), mutate)
    assert verdict.flights == after_the_handshake  # the CCS alone, once both targets had completed
    _assert_same_rejection(verdict)
    assert (verdict.s2n.error, verdict.engine.error) == ("S2N_ERR_BAD_MESSAGE", "UnexpectedMessageError")
    assert verdict.s2n.last_message == verdict.engine.last_message == "APPLICATION_DATA"


def test_change_cipher_spec_after_the_handshake_in_rfc_mode() -> None:
    server = engine_connection(POLICY, "ecdsa-p256", 3, client=False, compat=Compat.rfc())
    client = engine_connection(POLICY, "ecdsa-p256", 3, client=True)
    client.start()
    while not server.handshake_complete:
        server.receive_data(client.data_to_send())
        if answer := server.data_to_send():  # receive_data(b"") would mean EOF
            client.receive_data(answer)
    with pytest.raises(UnexpectedMessageError):
        server.receive_data(bytes([20, 3, 3, 0, 1, 1]))


def _with_trailing_byte(flight: int, data: bytes) -> bytes:
    if flight:
        return data
    body = data[5:]
    length = int.from_bytes(body[1:4], "big") + 1
    body = body[:1] + length.to_bytes(3, "big") + body[4:] + b"\x00"
    return data[:3] + len(body).to_bytes(2, "big") + body


def test_trailing_bytes_after_client_hello_extensions_are_ignored_as_s2n_does() -> None:
    # A finding (tls/s2n_client_hello.c checks nothing after the extensions block); the engine
    # follows under Compat.lenient_client_hello: both answer as if the byte were not there.
    _assert_same_answers(_server_case(_with_trailing_byte))


def test_trailing_bytes_after_client_hello_extensions_in_rfc_mode() -> None:
    server = engine_connection(POLICY, "ecdsa-p256", 3, client=False, compat=Compat.rfc())
    client = engine_connection(POLICY, "ecdsa-p256", 3, client=True)
    client.start()
    with pytest.raises(TLSError) as error:
        server.receive_data(_with_trailing_byte(0, client.data_to_send()))
    assert error.value.alert == AlertDescription.DECODE_ERROR


def _append_extension(extension_type: int, data: bytes) -> Callable[[ClientHello], ClientHello]:
    return lambda hello: replace(hello, extensions=(*hello.extensions, Extension(extension_type, data)))


@pytest.mark.parametrize(
    ("case", "edit", "accepted"),
    [
        ("empty compression list", lambda hello: replace(hello, legacy_compression_methods=b""), True),
        ("no null compression", lambda hello: replace(hello, legacy_compression_methods=b"\x01"), True),
        (
            "repeated unknown extension",
            lambda h: _append_extension(0x7777, b"")(_append_extension(0x7777, b"")(h)),
            True,
        ),
        ("repeated known extension", _append_extension(ExtensionType.EC_POINT_FORMATS, b"\x01\x00"), False),
        ("cookie the server never sent", _append_extension(ExtensionType.COOKIE, b"\x00\x01\x00"), False),
    ],
)
def test_lenient_client_hello_parsing_matches_s2n(
    case: str, edit: Callable[[ClientHello], ClientHello], accepted: bool
) -> None:
    verdict = _server_case(_client_hello_edit(edit))
    if accepted:
        _assert_same_answers(verdict)
    else:
        _assert_same_rejection(verdict)


def test_one_stray_byte_after_compression_reads_as_no_extensions() -> None:
    # s2n reads fewer than two bytes as an absent extensions block: a TLS 1.2 ClientHello,
    # refused by a TLS 1.3-only policy with protocol_version.
    def mutate(flight: int, data: bytes) -> bytes:
        if flight:
            return data
        hello = decode_handshake(data[5:])
        assert isinstance(hello, ClientHello)
        body = encode_handshake(replace(hello, extensions=(), extensions_present=False)) + b"\x00"
        body = body[:1] + (len(body) - 4).to_bytes(3, "big") + body[4:]
        return data[:3] + len(body).to_bytes(2, "big") + body

    verdict = _server_case(mutate, policy=TLS13_ONLY)
    _assert_same_rejection(verdict)
    assert verdict.engine.error == "ProtocolVersionError"


def test_known_divergence_client_hello_and_a_partial_message_in_one_record() -> None:
    # A finding, pinned: s2n fails with an internal error after writing a stray plaintext
    # handshake record; the engine sends its flight and then close_notify.
    def mutate(flight: int, data: bytes) -> bytes:
        if flight:
            return data
        length = int.from_bytes(data[3:5], "big") + 2
        return data[:3] + length.to_bytes(2, "big") + data[5:] + b"\x14\x00"

    verdict = _server_case(mutate)
    assert verdict.s2n.status is Status.FAILED and verdict.s2n.error == "S2N_ERR_NULL"
    assert verdict.s2n.output.startswith(bytes.fromhex("16030300021400"))
    assert verdict.engine.status is Status.FAILED and verdict.engine.error == "UnexpectedMessageError"


# Parameters no s2n client policy offers first, reached by editing the ClientHello: both
# servers must answer with the same bytes (the actor's own transcript breaks afterwards).


def test_chacha20_poly1305_server_side() -> None:
    mutate = _client_hello_edit(lambda hello: replace(hello, cipher_suites=(0x1303,)))
    verdict = _server_case(mutate, policy="test_all_tls13")
    _assert_same_answers(verdict)
    assert verdict.s2n.output[:5] == bytes.fromhex("160303007a")


def test_secp521r1_after_a_hello_retry_server_side() -> None:
    groups = SupportedGroups((0x0019,)).encode()

    def mutate(flight: int, data: bytes) -> bytes:
        edit = _client_hello_edit(lambda hello: _replace_extension(hello, ExtensionType.SUPPORTED_GROUPS, groups))
        if flight == 1:  # the actor's CCS, then its second ClientHello
            return data[:6] + edit(0, data[6:])
        return edit(0, data) if flight == 0 else data

    verdict = _server_case(mutate)
    assert verdict.flights == 1  # flight 0: the same HelloRetryRequest; flight 1: the same P-521 ServerHello...
    _assert_same_answers(verdict)
    assert bytes.fromhex("0033008900190085") in verdict.s2n.output  # key_share: secp521r1, 133-byte point


@pytest.mark.parametrize("scheme", [0x0806, 0x0805])
def test_rsa_pss_with_sha384_and_sha512_server_side(scheme: int) -> None:
    schemes = SignatureSchemeList((scheme,)).encode()
    mutate = _client_hello_edit(lambda hello: _replace_extension(hello, ExtensionType.SIGNATURE_ALGORITHMS, schemes))
    verdict = _server_case(mutate, policy="test_all_tls13", cert_type="rsa-2048")
    _assert_same_answers(verdict)
