"""Mutation operators: total over every integer and byte input, deterministic, within size budgets."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.record.protection import MAX_PLAINTEXT
from engine.wire.handshake import ClientHello, decode_handshake
from tlsdiff.decode import decode_conversation, split_wire_records
from tlsdiff.fieldtree import Kind, Node, encode, find, parse_message, preorder
from tlsdiff.mutate import (
    KNOWN_EXTENSIONS,
    SEAL_OVERHEAD,
    MessageOp,
    PlainRecord,
    RecordOp,
    WireOp,
    apply_message_mutation,
    apply_record_mutation,
    apply_wire_mutation,
    mutate_message,
    mutate_records,
    mutate_wire,
    sslv2_client_hello,
)
from tlsdiff.scenario import run_pair

_INTS = st.integers(min_value=-(1 << 70), max_value=1 << 70)
_SMALL_INTS = st.integers(min_value=-3, max_value=40)


@cache
def _conversation() -> tuple[list[bytes], list[bytes]]:
    """The wire records and the (decrypted) handshake messages of a real conversation."""
    result = run_pair("engine", "engine", "default_tls13", "ecdsa-p256", 7)
    records = decode_conversation([(record.direction, record.data) for record in result.records], result.client_key_log)
    messages = [raw for record in records for _, raw in record.messages]
    return [record.data for record in result.records], messages


def _client_hello(raw: bytes) -> ClientHello:
    """Strictly decoded: the engine's codec accepts the mutated message."""
    message = decode_handshake(raw)
    assert isinstance(message, ClientHello)
    return message


def _messages() -> list[bytes]:
    return _conversation()[1]


def _server_flight() -> list[PlainRecord]:
    """The server's flight as the harness holds it before sealing: one record per message, then the CCS."""
    return [PlainRecord(22, message) for message in _messages()[1:6]] + [PlainRecord(20, b"\x01")]


def _candidate(raw: bytes, accept: Callable[[Node], bool], name: str) -> int:
    """The node index argument that makes an op pick the node called ``name`` among those ``accept`` takes."""
    candidates = [node.name for node in preorder(parse_message(raw)) if accept(node)]
    return candidates.index(name)


def _child_candidate(raw: bytes, parent_accept: Callable[[Node], bool], name: str) -> int:
    """As ``_candidate``, among the nodes whose parent ``parent_accept`` takes (list elements, extensions)."""
    names: list[str] = []

    def walk(node: Node, parent: Node | None) -> None:
        if parent is not None and parent_accept(parent):
            names.append(node.name)
        for child in node.children:
            walk(child, node)

    walk(parse_message(raw), None)
    return names.index(name)


def _is_vector(node: Node) -> bool:
    return node.kind is Kind.VECTOR


def _is_extension_list(node: Node) -> bool:
    return node.kind is Kind.VECTOR and node.name.endswith(".extensions")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), _INTS, _INTS, _INTS, st.binary(max_size=40), st.integers(-5, 400))
def test_message_mutation_is_total_on_any_bytes(
    raw: bytes, op: int, node_index: int, value: int, data: bytes, max_size: int
) -> None:
    out = apply_message_mutation(raw, op, node_index, value, data, max_size=max_size)
    assert isinstance(out, bytes) and len(out) <= max(max_size, 0)
    assert out == apply_message_mutation(raw, op, node_index, value, data, max_size=max_size)


@settings(max_examples=300, deadline=None)
@given(st.data(), _SMALL_INTS, _INTS, _INTS, st.binary(max_size=40), st.integers(0, 70000))
def test_message_mutation_is_total_on_real_messages(
    data: st.DataObject, op: int, node_index: int, value: int, extra: bytes, max_size: int
) -> None:
    raw = data.draw(st.sampled_from(_messages()))
    out = apply_message_mutation(raw, op, node_index, value, extra, max_size=max_size)
    assert len(out) <= max_size
    assert encode(parse_message(out)) == out


def test_mutate_message_is_deterministic_and_within_budget() -> None:
    hello = _messages()[0]
    outputs = set()
    for seed in range(300):
        budget = 200 + seed * 7
        first = mutate_message(hello, random.Random(seed), budget)
        assert first == mutate_message(hello, random.Random(seed), budget)
        assert len(first) <= budget
        outputs.add(first)
    assert len(outputs) > 200


def test_int_and_length_ops_hit_boundaries() -> None:
    hello = _messages()[0]
    suite = _candidate(hello, lambda node: node.kind is Kind.UINT, "ClientHello.cipher_suites[3]")
    for value, expected in ((0, 0), (1, 1), (2, 0xFFFF), (3, 0xFFFE), (5 * 0x1234 + 4, 0x1234)):
        out = apply_message_mutation(hello, MessageOp.SET_INT, suite, value, b"")
        assert _client_hello(out).cipher_suites[3] == expected
    prefixed = _candidate(
        hello, lambda node: node.width > 0 and node.kind is not Kind.UINT, "ClientHello.cipher_suites"
    )
    lengths = []
    for value in range(5):
        out = apply_message_mutation(hello, MessageOp.SET_LENGTH, prefixed, value, b"")
        node = find(parse_message(out), "ClientHello.cipher_suites")
        assert node is not None
        lengths.append(node.value)
    assert lengths == [29, 27, 0, 0xFFFF, 0]


def test_content_op_makes_empty_single_given_and_very_long_opaques() -> None:
    hello = _messages()[0]
    name = "ClientHello.extensions[2:key_share].client_shares[0].key_exchange"
    share = _candidate(hello, lambda node: node.kind in (Kind.OPAQUE, Kind.RAW), name)
    sizes = []
    for value in range(6):
        out = apply_message_mutation(hello, MessageOp.SET_CONTENT, share, value, b"xyz", max_size=1 << 17)
        node = find(parse_message(out), name)
        assert node is not None
        sizes.append(len(node.data))
        if value < 3:
            _client_hello(out)  # every length around it was kept right
    assert sizes[:3] == [0, 1, 3]
    # The prefix's maximum: the outer two-byte lengths saturate, so a re-parse sees a little less.
    assert min(sizes[3:5]) > 65000
    long = apply_message_mutation(hello, MessageOp.SET_CONTENT, share, 3, b"", max_size=1 << 17)
    assert len(long) == len(hello) - 65 + 0xFFFF
    small = apply_message_mutation(hello, MessageOp.SET_CONTENT, share, 3, b"", max_size=1000)
    assert len(small) == 1000


def test_list_ops_make_very_long_lists_and_reorder() -> None:
    hello = _messages()[0]
    first_suite = _child_candidate(hello, _is_vector, "ClientHello.cipher_suites[0]")
    long = _client_hello(apply_message_mutation(hello, MessageOp.REPEAT_ELEMENT, first_suite, 4000, b""))
    assert len(long.cipher_suites) == 14 + 4000
    capped = apply_message_mutation(hello, MessageOp.REPEAT_ELEMENT, first_suite, 4000, b"", max_size=len(hello) + 21)
    assert len(_client_hello(capped).cipher_suites) == 14 + 10
    deleted = _client_hello(apply_message_mutation(hello, MessageOp.DELETE_ELEMENT, first_suite, 0, b""))
    assert deleted.cipher_suites[0] == 0x1302
    swapped = _client_hello(apply_message_mutation(hello, MessageOp.SWAP_ELEMENTS, first_suite, 13, b""))
    assert (swapped.cipher_suites[0], swapped.cipher_suites[13]) == (0x00FF, 0x1301)
    duplicated = _client_hello(apply_message_mutation(hello, MessageOp.DUPLICATE_ELEMENT, first_suite, 0, b""))
    assert duplicated.cipher_suites[:2] == (0x1301, 0x1301)
    group = _child_candidate(hello, _is_vector, "ClientHello.extensions[1:supported_groups].named_group_list[1]")
    groups = apply_message_mutation(hello, MessageOp.DELETE_ELEMENT, group, 0, b"")
    assert _client_hello(groups).extensions[1].data == bytes.fromhex("000600170018 0019")


def _extension_types(message: bytes) -> list[int]:
    extensions = find(parse_message(message), "ClientHello.extensions")
    assert extensions is not None
    return [extension.children[0].value for extension in extensions.children]


def test_extension_ops() -> None:
    hello = _messages()[0]
    original = _extension_types(hello)
    assert original == [43, 10, 51, 13, 0, 11, 23]
    key_share = _child_candidate(hello, _is_extension_list, "ClientHello.extensions[2:key_share]")
    assert _extension_types(apply_message_mutation(hello, MessageOp.DELETE_EXTENSION, key_share, 0, b"")) == [
        43, 10, 13, 0, 11, 23,
    ]  # fmt: skip
    duplicated = apply_message_mutation(hello, MessageOp.DUPLICATE_EXTENSION, key_share, 0, b"")
    assert _extension_types(duplicated) == [43, 10, 51, 51, 13, 0, 11, 23]
    assert _extension_types(apply_message_mutation(hello, MessageOp.EXTENSION_TO_END, key_share, 0, b""))[-1] == 51
    assert _extension_types(apply_message_mutation(hello, MessageOp.EXTENSION_TO_FRONT, key_share, 0, b""))[0] == 51
    shuffled = _extension_types(apply_message_mutation(hello, MessageOp.SHUFFLE_EXTENSIONS, 0, 12345, b""))
    assert sorted(shuffled) == sorted(original) and shuffled != original
    known = apply_message_mutation(hello, MessageOp.INSERT_EXTENSION, 0, 0, b"")  # KNOWN_EXTENSIONS[0], first
    assert _extension_types(known) == [KNOWN_EXTENSIONS[0][0], *original]
    extensions = find(parse_message(known), "ClientHello.extensions")
    assert extensions is not None and encode(extensions.children[0]) == bytes.fromhex("002b00020304")
    grease = apply_message_mutation(hello, MessageOp.INSERT_EXTENSION, 0, 3 * 7 + 1, b"data")
    assert _extension_types(grease) == [*original, 0x7A7A]  # position 7 // 1 % 8: the end
    for message in (known, grease, duplicated):
        tree = parse_message(message)
        assert all(find(tree, name).consistent for name in ("ClientHello.body", "ClientHello.extensions"))  # type: ignore[union-attr]


def test_truncate_and_trailing_ops() -> None:
    hello = _messages()[0]
    assert apply_message_mutation(hello, MessageOp.TRUNCATE, 0, 100, b"") == hello[:100]
    assert apply_message_mutation(hello, MessageOp.APPEND_TRAILING, 0, 0, b"tail") == hello + b"tail"
    regions = [
        node.name for node in preorder(parse_message(hello)) if node.width and node.kind in (Kind.STRUCT, Kind.VECTOR)
    ]
    body = regions.index("ClientHello.extensions[0:supported_versions].extension_data")
    out = apply_message_mutation(hello, MessageOp.INSERT_TRAILING, body, 0, b"\xff\xfe")
    tree = parse_message(out)
    trailing = find(tree, "ClientHello.extensions[0:supported_versions].trailing")
    assert trailing is not None and trailing.data == b"\xff\xfe"
    assert all(node.consistent for node in preorder(tree))


_RECORDS = st.lists(
    st.builds(PlainRecord, st.integers(-2, 300), st.binary(max_size=60), st.integers(-3, 100)), max_size=6
)


@settings(max_examples=300, deadline=None)
@given(_RECORDS, _INTS, _INTS, _INTS, st.binary(max_size=40), st.integers(-5, 1 << 16))
def test_record_mutation_is_total(
    records: list[PlainRecord], op: int, index: int, value: int, data: bytes, max_size: int
) -> None:
    out = apply_record_mutation(records, op, index, value, data, max_size=max_size)
    assert all(isinstance(record, PlainRecord) for record in out)
    size = sum(len(record.content) + max(record.padding, 0) + SEAL_OVERHEAD for record in out)
    original = sum(len(record.content) + max(record.padding, 0) + SEAL_OVERHEAD for record in records)
    assert size <= max_size or out == records
    assert original > max_size or size <= max_size


def test_record_ops_on_a_real_flight() -> None:
    flight = _server_flight()
    content = b"".join(record.content for record in flight if record.content_type == 22)
    split = apply_record_mutation(flight, RecordOp.SPLIT, 2, 100, b"")
    assert [len(record.content) for record in split[2:4]] == [100, len(flight[2].content) - 100]
    assert b"".join(record.content for record in split if record.content_type == 22) == content
    coalesced = apply_record_mutation(flight, RecordOp.COALESCE, 0, 7, b"")
    assert coalesced[0] == PlainRecord(22, content) and coalesced[1:] == [PlainRecord(20, b"\x01")]
    interleaved = apply_record_mutation(flight, RecordOp.INTERLEAVE, 2, 50, b"")
    assert [record.content_type for record in interleaved[:5]] == [22, 22, 22, 20, 22]
    assert interleaved[2].content + interleaved[4].content == flight[2].content
    inserted = apply_record_mutation(flight, RecordOp.INSERT, 2, 0x42, b"random")
    assert inserted[2] == PlainRecord(0x42, b"random") and len(inserted) == len(flight) + 1
    empty = apply_record_mutation(flight, RecordOp.INSERT_EMPTY, 0, 1, b"")
    assert empty[0] == PlainRecord(23, b"")
    paddings = [apply_record_mutation(flight, RecordOp.SET_PADDING, 0, value, b"")[0].padding for value in range(5)]
    message = len(flight[0].content)
    assert paddings == [0, 1, MAX_PLAINTEXT - message, MAX_PLAINTEXT - message + 1, MAX_PLAINTEXT + 240 - message]
    longer = apply_record_mutation(flight, RecordOp.OVERSIZE, 3, 2 + 3 * 99, b"ab")
    assert len(longer[3].content) == MAX_PLAINTEXT + 100 and longer[3].content.startswith(flight[3].content + b"abab")
    assert apply_record_mutation(flight, RecordOp.OVERSIZE, 3, 1, b"", max_size=5000) == flight  # over budget
    assert apply_record_mutation([], RecordOp.SPLIT, 3, 1, b"") == []
    assert apply_record_mutation([], RecordOp.INSERT, 3, 22, b"x") == [PlainRecord(22, b"x")]


def test_mutate_records_and_wire_are_deterministic() -> None:
    flight = _server_flight()
    wire = b"".join(_conversation()[0][1:7])
    for seed in range(50):
        assert mutate_records(flight, random.Random(seed), 1 << 16) == mutate_records(
            flight, random.Random(seed), 1 << 16
        )
        out = mutate_wire(wire, random.Random(seed), 4000)
        assert out == mutate_wire(wire, random.Random(seed), 4000) and len(out) <= 4000


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), _INTS, _INTS, _INTS, st.binary(max_size=40), st.integers(-5, 400))
def test_wire_mutation_is_total(data: bytes, op: int, index: int, value: int, data_arg: bytes, max_size: int) -> None:
    out = apply_wire_mutation(data, op, index, value, data_arg, max_size=max_size)
    assert isinstance(out, bytes) and len(out) <= max(max_size, 0)


def test_wire_ops_on_a_real_flight() -> None:
    records = _conversation()[0]
    flight = b"".join(records[1:7])
    assert apply_wire_mutation(flight, WireOp.TRUNCATE, 0, 10, b"") == flight[:10]
    flipped = apply_wire_mutation(flight, WireOp.FLIP_BIT, 3, 0, b"")
    difference = [(a ^ b, i) for i, (a, b) in enumerate(zip(flipped, flight, strict=True)) if a != b]
    assert difference == [(0x80, len(b"".join(records[1:4])) + 5)]
    typed = apply_wire_mutation(flight, WireOp.SET_HEADER, 1, 3 * 0x63, b"")
    assert split_wire_records(typed)[0][1][0] == 0x63
    longer = apply_wire_mutation(flight, WireOp.SET_HEADER, 0, 2, b"")
    assert int.from_bytes(longer[3:5], "big") == len(records[1]) - 5 + 1
    inserted = apply_wire_mutation(flight, WireOp.INSERT_RECORD, 1, 0x17, b"xyz")
    assert split_wire_records(inserted)[0][1] == b"\x17\x03\x03\x00\x03xyz"
    assert apply_wire_mutation(flight, WireOp.DELETE_RECORD, 0, 0, b"") == b"".join(records[2:7])
    assert apply_wire_mutation(flight, WireOp.DUPLICATE_RECORD, 5, 0, b"") == flight + records[6]
    assert apply_wire_mutation(flight, WireOp.SSLV2_CLIENT_HELLO, 0, 0, b"") == flight  # no ClientHello here


def test_sslv2_rewrite_of_a_real_client_hello() -> None:
    record = _conversation()[0][0]
    hello = _client_hello(record[5:])
    rewritten = apply_wire_mutation(record + b"rest", WireOp.SSLV2_CLIENT_HELLO, 0, 0, b"")
    assert rewritten.endswith(b"rest")
    v2 = rewritten[: -len(b"rest")]
    assert v2 == sslv2_client_hello(record[5:])
    length = int.from_bytes(v2[:2], "big")
    assert length & 0x8000 and length & 0x7FFF == len(v2) - 2
    assert v2[2] == 1  # msg_type client_hello
    assert int.from_bytes(v2[3:5], "big") == hello.legacy_version == 0x0303
    spec_length, session_length, challenge_length = (int.from_bytes(v2[i : i + 2], "big") for i in (5, 7, 9))
    assert (spec_length, session_length, challenge_length) == (3 * 14, 0, 32)
    specs = v2[11 : 11 + spec_length]
    assert [int.from_bytes(specs[i : i + 3], "big") for i in range(0, spec_length, 3)] == list(hello.cipher_suites)
    assert v2[11 + spec_length :] == hello.random
    with_session = sslv2_client_hello(record[5:], session_id=True)
    assert int.from_bytes(with_session[7:9], "big") == 32
    assert with_session[11 + spec_length : 11 + spec_length + 32] == hello.legacy_session_id
