"""Properties of every wire structure, checked with Hypothesis.

Strategies are derived from each structure's declared wire form, so a structure added
to ``engine.wire`` is covered as soon as it is exported. Properties:

- a valid structure survives encode -> decode unchanged and re-encodes to the same bytes;
- decoding any bytes either raises a ``TLSError`` or gives a structure that encodes back
  to exactly those bytes (``encode(decode(b)) == b``), never IndexError, ValueError, ...
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.wire.extensions as extensions_module
import engine.wire.handshake as handshake_module
import engine.wire.record as record_module
from engine.errors import TLSError
from engine.wire.codec import Fixed, Form, Nested, Opaque, Rest, Struct, Uint, Vector, wire_fields
from engine.wire.extensions import Extension, ExtensionList, ExtensionType, decode_extensions, encode_extensions
from engine.wire.handshake import (
    ClientHello,
    HandshakeBuffer,
    HandshakeMessage,
    HandshakeType,
    decode_client_hello_as_s2n,
    decode_handshake,
    decode_handshake_body,
    encode_handshake,
)

STRUCTS: list[type[Struct]] = sorted(
    {
        value
        for module in (extensions_module, handshake_module, record_module)
        for name in module.__all__
        if isinstance(value := getattr(module, name), type) and issubclass(value, Struct)
    },
    key=lambda cls: cls.__name__,
)
MESSAGES: list[type[Struct]] = [cls for cls in STRUCTS if hasattr(cls, "msg_type")]

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


def test_every_handshake_type_but_message_hash_has_a_codec() -> None:
    covered = {cls.msg_type for cls in MESSAGES}  # type: ignore[attr-defined]
    assert covered == set(HandshakeType) - {HandshakeType.MESSAGE_HASH}
    assert len(STRUCTS) > 30


def _encoded_length(form: Form, value: Any) -> int:
    out = bytearray()
    form.write(value, out)
    return len(out)


def extension_lists(form: ExtensionList) -> st.SearchStrategy[tuple[Extension, ...]]:
    """Extension blocks within the form's bounds, with no repeated type."""
    extension_type = st.one_of(st.sampled_from(list(ExtensionType)).map(int), st.integers(0, 0xFFFF))
    extension = st.builds(Extension, extension_type, st.binary(max_size=24))
    return (
        st.lists(
            extension, min_size=math.ceil(form.minimum / 4), max_size=6, unique_by=lambda item: item.extension_type
        )
        .map(tuple)
        .filter(lambda items: form.minimum <= _encoded_length(form, items) - 2 <= form.maximum)
    )


def values_for(form: Form) -> st.SearchStrategy[Any]:
    """Valid values for one field form (within the RFC's bounds)."""
    if isinstance(form, Uint):
        return st.integers(0, (1 << (8 * form.size)) - 1)
    if isinstance(form, Fixed):
        return st.binary(min_size=form.size, max_size=form.size)
    if isinstance(form, Rest):
        return st.binary(max_size=64)
    if isinstance(form, Nested):
        return structs(form.struct)
    if isinstance(form, ExtensionList):
        return extension_lists(form)
    if isinstance(form, Vector):
        vector = form
        return (
            st.lists(values_for(form.element), min_size=1 if form.minimum else 0, max_size=6)
            .map(tuple)
            .filter(
                lambda items: vector.minimum <= _encoded_length(vector, items) - vector.length_size <= vector.maximum
            )
        )
    if isinstance(form, Opaque):
        return st.binary(min_size=form.minimum, max_size=min(form.maximum, form.minimum + 48))
    raise AssertionError(f"no strategy for {form!r}")


@st.composite
def _struct_values(draw: st.DrawFn, cls: type[Struct]) -> Struct:
    values: dict[str, Any] = {}
    for wire_field in wire_fields(cls):
        if wire_field.absent_flag is not None and not draw(st.booleans()):
            values[wire_field.absent_flag] = False
            values[wire_field.name] = wire_field.absent_value
            continue
        values[wire_field.name] = draw(values_for(wire_field.form))
    return cls(**values)


def structs(cls: type[Struct]) -> st.SearchStrategy[Struct]:
    """Valid instances of ``cls``."""
    return _struct_values(cls)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with one truncation, byte change, insertion or deletion."""
    position = draw(st.integers(0, len(data)))
    kind = draw(st.sampled_from(["truncate", "change", "insert", "delete", "append"]))
    if kind == "truncate":
        return data[:position]
    if kind == "append":
        return data + draw(st.binary(min_size=1, max_size=4))
    if kind == "insert":
        return data[:position] + draw(st.binary(min_size=1, max_size=2)) + data[position:]
    if not data:
        return b"\x00"
    position = min(position, len(data) - 1)
    if kind == "delete":
        return data[:position] + data[position + 1 :]
    return data[:position] + bytes([draw(st.integers(0, 255))]) + data[position + 1 :]


def check_decode(cls: type[Struct], data: bytes) -> None:
    """Decoding either raises a TLSError or round-trips byte for byte."""
    try:
        decoded = cls.decode(data)
    except TLSError:
        return
    assert decoded.encode() == data


@pytest.mark.parametrize("cls", STRUCTS, ids=lambda cls: cls.__name__)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_valid_structures_round_trip(cls: type[Struct], data: st.DataObject) -> None:
    value = data.draw(structs(cls))
    encoded = value.encode()
    decoded = cls.decode(encoded)
    assert decoded == value
    assert decoded.encode() == encoded


@pytest.mark.parametrize("cls", STRUCTS, ids=lambda cls: cls.__name__)
@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=160))
def test_arbitrary_bytes_raise_only_tls_errors(cls: type[Struct], raw: bytes) -> None:
    check_decode(cls, raw)


@pytest.mark.parametrize("cls", STRUCTS, ids=lambda cls: cls.__name__)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_mutated_structures_raise_only_tls_errors(cls: type[Struct], data: st.DataObject) -> None:
    encoded = data.draw(structs(cls)).encode()
    check_decode(cls, data.draw(mutated(encoded)))


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda cls: cls.__name__)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_framed_messages_round_trip(cls: type[Struct], data: st.DataObject) -> None:
    message: HandshakeMessage = data.draw(structs(cls))  # type: ignore[assignment]
    framed = encode_handshake(message)
    assert framed[0] == message.msg_type
    assert int.from_bytes(framed[1:4], "big") == len(framed) - 4
    assert decode_handshake(framed) == message
    assert decode_handshake_body(message.msg_type, framed[4:]) == message
    buffer = HandshakeBuffer()
    split = data.draw(st.integers(0, len(framed)))
    buffer.feed(framed[:split])
    buffer.feed(framed[split:])
    assert buffer.next_message() == (message.msg_type, framed)
    assert buffer.pending == 0


def _assert_rejected_or_round_trips(raw: bytes) -> None:
    """A whole framed message either raises a TLSError or re-encodes to exactly ``raw``."""
    try:
        decoded = decode_handshake(raw)
    except TLSError:
        return
    assert encode_handshake(decoded) == raw


@PROPERTY_SETTINGS
@given(data=st.data())
def test_mutated_framed_messages_raise_only_tls_errors(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(MESSAGES))
    message: HandshakeMessage = data.draw(structs(cls))  # type: ignore[assignment]
    raw = data.draw(mutated(encode_handshake(message)))
    _assert_rejected_or_round_trips(raw)


@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=300))
def test_decode_handshake_of_arbitrary_bytes(raw: bytes) -> None:
    _assert_rejected_or_round_trips(raw)


@PROPERTY_SETTINGS
@given(msg_type=st.integers(0, 255), body=st.binary(max_size=120))
def test_decode_handshake_body_of_arbitrary_bytes(msg_type: int, body: bytes) -> None:
    try:
        decoded = decode_handshake_body(msg_type, body)
    except TLSError:
        return
    assert decoded.msg_type == msg_type
    assert decoded.encode() == body


@PROPERTY_SETTINGS
@given(data=st.data())
def test_s2n_client_hello_parse_agrees_with_the_codec_where_the_codec_accepts(data: st.DataObject) -> None:
    hello: ClientHello = data.draw(structs(ClientHello))  # type: ignore[assignment]
    body = data.draw(mutated(hello.encode()))
    try:
        lenient = decode_client_hello_as_s2n(body)
    except TLSError:
        lenient = None  # only TLSError may escape
    try:
        strict = ClientHello.decode(body)
    except TLSError:
        return
    assert lenient == strict


@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=120))
def test_decode_extensions_of_arbitrary_bytes(raw: bytes) -> None:
    try:
        decoded = decode_extensions(raw)
    except TLSError:
        return
    assert encode_extensions(decoded) == raw
    assert len({extension.extension_type for extension in decoded}) == len(decoded)


@PROPERTY_SETTINGS
@given(chunks=st.lists(st.binary(max_size=40), max_size=8), limit=st.integers(0, 64))
def test_handshake_buffer_of_arbitrary_chunks(chunks: list[bytes], limit: int) -> None:
    buffer = HandshakeBuffer(max_message_size=limit)
    returned = bytearray()
    try:
        for chunk in chunks:
            buffer.feed(chunk)
            while (message := buffer.next_message()) is not None:
                msg_type, raw = message
                assert msg_type == raw[0]
                assert len(raw) == 4 + int.from_bytes(raw[1:4], "big") <= 4 + limit
                returned += raw
    except TLSError:
        return
    stream = b"".join(chunks)
    assert bytes(returned) + stream[len(returned) :] == stream
    assert buffer.pending == len(stream) - len(returned)
