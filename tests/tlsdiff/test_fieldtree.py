"""The lenient field tree: lossless on every byte string, RFC names, first-difference paths."""

from __future__ import annotations

import dataclasses
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.wire.extensions import (
    EarlyDataNewSessionTicket,
    Extension,
    ExtensionType,
    KeyShareHelloRetryRequest,
    SupportedVersionsServer,
)
from engine.wire.handshake import (
    HELLO_RETRY_REQUEST_RANDOM,
    Certificate,
    CertificateEntry,
    CertificateRequest,
    ClientHello,
    KeyUpdate,
    NewSessionTicket,
    ServerHello,
    decode_handshake,
    encode_handshake,
)
from tlsdiff.decode import decode_conversation
from tlsdiff.fieldtree import (
    Kind,
    Node,
    diff,
    encode,
    find,
    parse_message,
    parse_record,
    preorder,
    render,
    splice,
)
from tlsdiff.scenario import run_pair


@cache
def _conversation() -> tuple[list[bytes], list[tuple[int, bytes]]]:
    """The records and every handshake message (decrypted) of a real engine-to-engine conversation."""
    result = run_pair("engine", "engine", "default_tls13", "ecdsa-p256", 7)
    decoded = decode_conversation([(record.direction, record.data) for record in result.records], result.client_key_log)
    return [record.data for record in result.records], [message for record in decoded for message in record.messages]


def _message(msg_type: int) -> bytes:
    return next(raw for kind, raw in _conversation()[1] if kind == msg_type)


def _synthetic_messages() -> list[bytes]:
    status = Extension(ExtensionType.STATUS_REQUEST, b"\x01\x00\x00\x03abc")
    return [
        encode_handshake(KeyUpdate(1)),
        encode_handshake(
            NewSessionTicket(
                7, 9, b"n", b"ticket", (Extension.of(ExtensionType.EARLY_DATA, EarlyDataNewSessionTicket(1)),)
            )
        ),
        encode_handshake(
            CertificateRequest(b"", (Extension(ExtensionType.SIGNATURE_ALGORITHMS, b"\x00\x02\x04\x03"),))
        ),
        encode_handshake(Certificate(b"", (CertificateEntry(b"DER", (status,)),))),
        _hello_retry_request(),
    ]


def _hello_retry_request() -> bytes:
    extensions = (
        Extension.of(ExtensionType.SUPPORTED_VERSIONS, SupportedVersionsServer(0x0304)),
        Extension.of(ExtensionType.KEY_SHARE, KeyShareHelloRetryRequest(0x0018)),
    )
    return encode_handshake(ServerHello(0x0303, HELLO_RETRY_REQUEST_RANDOM, b"", 0x1301, 0, extensions))


def _all_messages() -> list[bytes]:
    return [raw for _, raw in _conversation()[1]] + _synthetic_messages()


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_round_trip(data: bytes) -> None:
    assert encode(parse_message(data)) == data
    assert encode(parse_record(data)) == data


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(range(256)), st.integers(0, 600), st.binary(max_size=300))
def test_any_body_of_any_message_type_round_trips(msg_type: int, length: int, body: bytes) -> None:
    data = bytes([msg_type]) + length.to_bytes(3, "big") + body
    assert encode(parse_message(data)) == data


@st.composite
def _damaged_messages(draw: st.DrawFn) -> bytes:
    message = bytearray(draw(st.sampled_from(_all_messages())))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(message)))
        action = draw(st.sampled_from(("flip", "insert", "delete", "cut")))
        if action == "flip" and position < len(message):
            message[position] ^= draw(st.integers(1, 255))
        elif action == "insert":
            message[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del message[position : position + draw(st.integers(1, 8))]
        else:
            del message[position:]
    return bytes(message)


@settings(max_examples=300, deadline=None)
@given(_damaged_messages())
def test_damaged_real_messages_round_trip(data: bytes) -> None:
    tree = parse_message(data)
    assert encode(tree) == data
    assert all(line for line in render(tree))


def test_real_messages_and_records_round_trip_and_parse_fully() -> None:
    records, _ = _conversation()
    for record in records:
        assert encode(parse_record(record)) == record
    for message in _all_messages():
        tree = parse_message(message)
        assert encode(tree) == message
        assert not [node.name for node in preorder(tree) if node.kind is Kind.RAW], tree.name
        assert all(node.consistent for node in preorder(tree))


def test_client_hello_fields_have_rfc_names() -> None:
    tree = parse_message(_message(1))
    suite = find(tree, "ClientHello.cipher_suites[3]")
    assert suite is not None and (suite.kind, suite.width, suite.value) == (Kind.UINT, 2, 0xC02B)
    share = find(tree, "ClientHello.extensions[2:key_share].client_shares[0].key_exchange")
    assert share is not None and share.kind is Kind.OPAQUE and share.width == 2
    assert share.value == len(share.data) == 65 and share.data[0] == 4
    group = find(tree, "ClientHello.extensions[2:key_share].client_shares[0].group")
    assert group is not None and group.value == 0x0017
    version = find(tree, "ClientHello.extensions[0:supported_versions].versions[0]")
    assert version is not None and version.value == 0x0304
    host = find(tree, "ClientHello.extensions[4:server_name].server_name_list[0].name")
    assert host is not None and host.data == b"localhost"
    session = find(tree, "ClientHello.legacy_session_id")
    assert session is not None and (session.width, session.value) == (1, 32)
    lines = render(tree)
    assert "      ClientHello.cipher_suites[3] = 0xc02b (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)" in lines


def test_encrypted_messages_have_their_structure() -> None:
    tree = parse_message(_message(11))
    assert tree.name == "Certificate"
    certificate = find(tree, "Certificate.certificate_list[0].cert_data")
    assert certificate is not None and certificate.width == 3 and certificate.data[:1] == b"\x30"
    verify = parse_message(_message(15))
    algorithm = find(verify, "CertificateVerify.algorithm")
    assert algorithm is not None and algorithm.value == 0x0403
    finished = find(parse_message(_message(20)), "Finished.verify_data")
    assert finished is not None and len(finished.data) == 32


def test_extension_bodies_depend_on_the_message() -> None:
    hello_retry = parse_message(_hello_retry_request())
    assert hello_retry.name == "HelloRetryRequest"
    group = find(hello_retry, "HelloRetryRequest.extensions[1:key_share].selected_group")
    assert group is not None and group.value == 0x0018
    ticket = parse_message(_synthetic_messages()[1])
    assert find(ticket, "NewSessionTicket.extensions[0:early_data].max_early_data_size") is not None
    certificate = parse_message(_synthetic_messages()[3])
    status = find(certificate, "Certificate.certificate_list[0].extensions[0:status_request].response")
    assert status is not None and status.data == b"abc"
    server_hello = parse_message(_message(2))
    selected = find(server_hello, "ServerHello.extensions[0:supported_versions].selected_version")
    assert selected is not None and selected.value == 0x0304


def test_what_the_codecs_refuse_is_represented() -> None:
    server_hello = _message(2)
    tree = parse_message(server_hello)
    key_share = find(tree, "ServerHello.extensions[1:key_share]")
    assert key_share is not None
    duplicated = encode(splice(tree, preorder(tree).index(key_share), (key_share, key_share)))
    again = parse_message(duplicated)
    assert find(again, "ServerHello.extensions[2:key_share].server_share.group") is not None
    assert encode(again) == duplicated
    # A declared length two more than the bytes there are.
    wrong = bytearray(server_hello)
    wrong[1:4] = (len(wrong) - 4 + 2).to_bytes(3, "big")
    wrong_body = find(parse_message(bytes(wrong)), "ServerHello.body")
    assert wrong_body is not None and wrong_body.value == len(wrong) - 2 and not wrong_body.consistent
    # Bytes after the message, and after an extension body inside its declared length.
    after = find(parse_message(server_hello + b"xy"), "ServerHello.trailing")
    assert after is not None and after.data == b"xy"
    versions = bytes.fromhex("0200002f0303") + bytes(32) + bytes.fromhex("001301000007002b00030304ff")
    trailing = find(parse_message(versions), "ServerHello.extensions[0:supported_versions].trailing")
    assert trailing is not None and trailing.data == b"\xff"


def test_truncated_input_becomes_partial_and_raw_nodes() -> None:
    hello = _message(1)
    tree = parse_message(hello[:20])
    random = find(tree, "ClientHello.random")
    assert random is not None and random.data == hello[6:20]
    cut_suite = parse_message(hello[:78])
    raw = [node for node in preorder(cut_suite) if node.kind is Kind.RAW]
    assert [node.name for node in raw] == ["ClientHello.cipher_suites[2]"]
    assert parse_message(b"\x01\x00").children[1].kind is Kind.RAW


def test_diff_names_the_changed_key_share_byte() -> None:
    server_hello = _message(2)
    changed = bytearray(server_hello)
    changed[-10] ^= 1
    path = diff(parse_message(server_hello), parse_message(bytes(changed)))
    assert path == "ServerHello.extensions[1:key_share].server_share.key_exchange"
    assert diff(parse_message(server_hello), parse_message(server_hello)) is None


def test_diff_reports_lengths_extra_elements_and_types() -> None:
    hello = _message(1)
    tree = parse_message(hello)
    suites = find(tree, "ClientHello.cipher_suites")
    assert suites is not None
    index = preorder(tree).index(suites)
    assert diff(tree, splice(tree, index, (dataclasses.replace(suites, value=30),))) == "ClientHello.cipher_suites"
    first = index + 1
    assert diff(tree, splice(tree, first, (suites.children[0],) * 2)) == "ClientHello.cipher_suites[1]"
    other = bytearray(hello)
    other[0] = 2
    assert diff(tree, parse_message(bytes(other))) == "ClientHello.msg_type"


def test_splice_keeps_correct_lengths_correct() -> None:
    hello = _message(1)
    tree = parse_message(hello)
    nodes = preorder(tree)
    index = nodes.index(next(node for node in nodes if node.name == "ClientHello.cipher_suites[13]"))
    shorter = encode(splice(tree, index, ()))
    assert len(shorter) == len(hello) - 2
    decoded_shorter = decode_handshake(shorter)
    assert isinstance(decoded_shorter, ClientHello) and len(decoded_shorter.cipher_suites) == 13  # strict codec
    extension = find(tree, "ClientHello.extensions[2:key_share].client_shares[0].key_exchange")
    assert extension is not None
    grown = dataclasses.replace(extension, data=extension.data + b"!", value=66)
    decoded = decode_handshake(encode(splice(tree, preorder(tree).index(extension), (grown,))))
    assert isinstance(decoded, ClientHello) and len(decoded.extensions) == 7


def test_render_shows_wrong_lengths_and_raw_bytes() -> None:
    lines = render(parse_message(bytes.fromhex("1800000501ff")))
    assert lines[2] == "  KeyUpdate.body: length 5 but 2 bytes"
    assert lines[-1] == "    KeyUpdate.trailing = raw ff (1 bytes)"
    assert render(Node("x", Kind.OPAQUE, data=bytes(200)))[0].startswith("x = 0000")


def test_records_parse_into_messages_alerts_and_ciphertext() -> None:
    records, _ = _conversation()
    hello = parse_record(records[0])
    assert hello.name == "TLSPlaintext" and find(hello, "ClientHello.cipher_suites[0]") is not None
    cipher = parse_record(records[3])
    encrypted = find(cipher, "TLSCiphertext.encrypted_record")
    assert encrypted is not None and encrypted.kind is Kind.OPAQUE and encrypted.value == len(records[3]) - 5
    alert = parse_record(bytes.fromhex("15030300020232"))
    description = find(alert, "Alert.description")
    assert description is not None and description.value == 50
    assert "Alert.description = 50 (DECODE_ERROR)" in render(alert)[-1]
