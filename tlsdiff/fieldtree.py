"""Lenient field trees of TLS handshake messages and records: parse anything, re-encode it exactly.

The engine's codecs refuse malformed input; findings and mutators need to look at it
anyway. ``parse_message`` turns any byte string into a tree of ``Node``s whose
encoding is exactly those bytes (``encode(parse_message(b)) == b`` for every ``b``):

- a length prefix keeps its declared value apart from the content that follows it,
  so a length that disagrees with the content re-encodes as it was;
- bytes left in a length-delimited region after its last field become a ``trailing``
  raw node; whatever is cut short becomes a raw node named after the field it should
  have been;
- duplicates and out-of-range values are just values.

Field names follow RFC 8446's presentation language, with list positions and the
extension code point in brackets::

    ClientHello.cipher_suites[3]
    ClientHello.extensions[2:key_share].client_shares[0].key_exchange

The structure of each message comes from the engine's declarative codec (the ``Form``
of each field), so the tree reads exactly the fields the engine reads. ``diff`` names
the first field where two trees differ; ``render`` prints a tree for side-by-side dumps.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from engine.errors import AlertDescription
from engine.wire.codec import Fixed, Form, Nested, Opaque, Rest, Struct, Uint, Vector, wire_fields
from engine.wire.extensions import ExtensionList, ExtensionType, NamedGroup, ProtocolVersion, SignatureScheme
from engine.wire.handshake import HELLO_RETRY_REQUEST_RANDOM, CipherSuite, HandshakeType, KeyUpdateRequest
from engine.wire.reader import Reader
from engine.wire.record import Alert, ContentType
from tlsdiff.fieldschema import (
    EXTENSION_BODIES,
    FIELD_NAMES,
    HELLO_RETRY_REQUEST,
    MESSAGE_STRUCTS,
    extension_label,
)

__all__ = [
    "Kind",
    "Node",
    "content_size",
    "diff",
    "encode",
    "find",
    "parse_message",
    "parse_record",
    "preorder",
    "render",
    "splice",
    "with_children",
]


class Kind(StrEnum):
    """What a node is on the wire."""

    UINT = "uint"  # a big-endian integer of ``width`` bytes
    OPAQUE = "opaque"  # bytes behind a ``width``-byte length (0: fixed size or the rest)
    STRUCT = "struct"  # fields in order, behind a ``width``-byte length (0: none)
    VECTOR = "vector"  # a list of elements behind a ``width``-byte length
    RAW = "raw"  # bytes that could not be parsed as what they should have been


@dataclass(frozen=True, slots=True)
class Node:
    """One field: on the wire, ``value`` in ``width`` bytes, then ``data``, then the children.

    For ``UINT`` the value is the integer; for prefixed nodes it is the declared length,
    kept even when it disagrees with the content. ``name`` is the field path at parse
    time (mutations that move nodes do not rename them).
    """

    name: str
    kind: Kind
    width: int = 0
    value: int = 0
    data: bytes = b""
    children: tuple[Node, ...] = ()
    # The bytes after the prefix, kept as the node is built: trees are immutable, and summing the
    # subtree again on every query made the mutators quadratic in the tree's size.
    size: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", len(self.data) + sum(child.width + child.size for child in self.children))

    @property
    def consistent(self) -> bool:
        """Whether a prefixed node's declared length equals its content size."""
        return self.width == 0 or self.kind is Kind.UINT or self.value == content_size(self)


def content_size(node: Node) -> int:
    """The bytes after the node's own prefix (or integer)."""
    return node.size


def encode(node: Node) -> bytes:
    """The wire bytes of ``node`` (a declared value too wide for its prefix wraps around)."""
    out = bytearray()
    _write(node, out)
    return bytes(out)


def _write(node: Node, out: bytearray) -> None:
    if node.width > 0:
        out += (node.value % (1 << (8 * node.width))).to_bytes(node.width, "big")
    out += node.data
    for child in node.children:
        _write(child, out)


def _raw(name: str, reader: Reader) -> Node:
    return Node(name, Kind.RAW, data=bytes(reader.rest()))


def _prefixed(name: str, width: int, reader: Reader) -> tuple[int, Reader] | Node:
    """The declared length and a reader over what of it is present, or a raw node if the prefix is cut."""
    if reader.remaining < width:
        return _raw(name, reader)
    declared = reader.uint(width)
    return declared, Reader(reader.bytes(min(declared, reader.remaining)))


def _with_trailing(children: list[Node], prefix: str, content: Reader) -> tuple[Node, ...]:
    if content.remaining:
        children.append(_raw(f"{prefix}.trailing", content))
    return tuple(children)


def _opaque(name: str, width: int, reader: Reader) -> Node:
    prefixed = _prefixed(name, width, reader)
    if isinstance(prefixed, Node):
        return prefixed
    declared, content = prefixed
    return Node(name, Kind.OPAQUE, width, declared, bytes(content.rest()))


def _leaf(form: Form, name: str, reader: Reader) -> Node:
    """A field without children: an integer or opaque bytes (a form the tree does not know is raw)."""
    if isinstance(form, Uint):
        short = reader.remaining < form.size
        return _raw(name, reader) if short else Node(name, Kind.UINT, form.size, reader.uint(form.size))
    if isinstance(form, Fixed):
        return Node(name, Kind.OPAQUE, data=bytes(reader.bytes(min(form.size, reader.remaining))))
    if isinstance(form, Rest):
        return Node(name, Kind.OPAQUE, data=bytes(reader.rest()))
    if isinstance(form, Opaque):
        return _opaque(name, form.length_size, reader)
    return _raw(name, reader)


class _Parser:
    """Reads fields leniently; ``context`` is the message whose extensions are being read."""

    __slots__ = ("context",)

    def __init__(self, context: str) -> None:
        self.context = context

    def fields(self, struct: type[Struct], prefix: str, reader: Reader) -> list[Node]:
        """The fields of ``struct`` that are present, named ``prefix.field``."""
        nodes = []
        for wire_field in wire_fields(struct):
            if not reader.remaining:
                break
            nodes.append(
                self.form(wire_field.form, f"{prefix}.{FIELD_NAMES.get(wire_field.name, wire_field.name)}", reader)
            )
        return nodes

    def form(self, form: Form, name: str, reader: Reader) -> Node:
        """One field of wire form ``form``; ``reader`` holds at least one byte."""
        if isinstance(form, ExtensionList):
            return self.vector(name, 2, reader, self.extension)
        if isinstance(form, Vector):
            element = form.element
            return self.vector(name, form.length_size, reader, lambda item, inner: self.form(element, item, inner))
        if isinstance(form, Nested):
            return Node(name, Kind.STRUCT, children=tuple(self.fields(form.struct, name, reader)))
        return _leaf(form, name, reader)

    def vector(self, name: str, width: int, reader: Reader, element: Callable[[str, Reader], Node]) -> Node:
        """A length-prefixed list; every byte of it belongs to some element (a cut one is raw)."""
        prefixed = _prefixed(name, width, reader)
        if isinstance(prefixed, Node):
            return prefixed
        declared, content = prefixed
        items: list[Node] = []
        while content.remaining:
            before = content.remaining
            items.append(element(f"{name}[{len(items)}]", content))
            if content.remaining == before:  # an element of no bytes would loop forever
                items.append(_raw(f"{name}.trailing", content))
        return Node(name, Kind.VECTOR, width, declared, children=tuple(items))

    def extension(self, item: str, reader: Reader) -> Node:
        """``Extension``: its type names it, and the message context decides how its data reads."""
        if reader.remaining < 2:
            return _raw(item, reader)
        extension_type = reader.uint(2)
        name = f"{item[:-1]}:{extension_label(extension_type)}]"
        children = [Node(f"{name}.extension_type", Kind.UINT, 2, extension_type)]
        if reader.remaining:
            body = EXTENSION_BODIES.get(self.context, {}).get(extension_type)
            if body is None:
                children.append(_opaque(f"{name}.extension_data", 2, reader))
            else:
                children.append(self.prefixed_struct(f"{name}.extension_data", 2, reader, body, name))
        return Node(name, Kind.STRUCT, children=tuple(children))

    def prefixed_struct(self, name: str, width: int, reader: Reader, struct: type[Struct], prefix: str) -> Node:
        """A length-delimited region holding ``struct``, its fields named ``prefix.field``."""
        prefixed = _prefixed(name, width, reader)
        if isinstance(prefixed, Node):
            return prefixed
        declared, content = prefixed
        children = _with_trailing(self.fields(struct, prefix, content), prefix, content)
        return Node(name, Kind.STRUCT, width, declared, children=children)


def _message_name(msg_type: int, body: memoryview) -> str:
    struct = MESSAGE_STRUCTS.get(msg_type)
    if struct is None:
        return "Handshake"
    if msg_type == HandshakeType.SERVER_HELLO:
        peek = Reader(body)
        if peek.remaining >= 34:
            peek.bytes(2)
            if peek.bytes(32) == HELLO_RETRY_REQUEST_RANDOM:
                return HELLO_RETRY_REQUEST
    return struct.__name__


def _body(msg_type: int, name: str, declared: int, content: Reader) -> Node:
    struct = MESSAGE_STRUCTS.get(msg_type)
    if struct is None:
        return Node(f"{name}.body", Kind.OPAQUE, 3, declared, bytes(content.rest()))
    fields = _Parser(name).fields(struct, name, content)
    return Node(f"{name}.body", Kind.STRUCT, 3, declared, children=_with_trailing(fields, name, content))


def _read_message(reader: Reader) -> Node:
    """One handshake message from ``reader`` (which holds at least one byte), leaving what follows."""
    msg_type = reader.uint(1)
    prefixed = _prefixed("body", 3, reader)
    if isinstance(prefixed, Node):  # the length itself is cut short
        name = _message_name(msg_type, memoryview(b""))
        body = dataclasses.replace(prefixed, name=f"{name}.body")
    else:
        declared, content = prefixed
        view = content.rest()
        name = _message_name(msg_type, view)
        body = _body(msg_type, name, declared, Reader(view))
    return Node(name, Kind.STRUCT, children=(Node(f"{name}.msg_type", Kind.UINT, 1, msg_type), body))


def parse_message(raw: bytes | memoryview) -> Node:
    """The field tree of one handshake message (4-byte header and body), whatever the bytes.

    >>> tree = parse_message(bytes.fromhex("18000002017f"))
    >>> [(node.name, node.value) for node in preorder(tree)][1:3]
    [('KeyUpdate.msg_type', 24), ('KeyUpdate.body', 2)]
    >>> encode(tree).hex()
    '18000002017f'
    """
    reader = Reader(raw)
    if not reader.remaining:
        return Node("Handshake", Kind.STRUCT)
    message = _read_message(reader)
    if reader.remaining:
        children = (*message.children, _raw(f"{message.name}.trailing", reader))
        message = dataclasses.replace(message, children=children)
    return message


def _fragment(name: str, content_type: int, reader: Reader) -> Node:
    prefixed = _prefixed(name, 2, reader)
    if isinstance(prefixed, Node):
        return prefixed
    declared, content = prefixed
    children: list[Node]
    if content_type == ContentType.HANDSHAKE:
        children = []
        while content.remaining:
            children.append(_read_message(content))
    elif content_type == ContentType.ALERT:
        children = _Parser("").fields(Alert, "Alert", content)
    elif content_type == ContentType.CHANGE_CIPHER_SPEC:
        children = [Node("ChangeCipherSpec.type", Kind.UINT, 1, content.uint(1))] if content.remaining else []
    else:
        return Node(name, Kind.OPAQUE, 2, declared, bytes(content.rest()))
    return Node(name, Kind.STRUCT, 2, declared, children=_with_trailing(children, name, content))


def parse_record(raw_record: bytes | memoryview) -> Node:
    """The field tree of one record: header fields, then the fragment.

    A plaintext fragment of handshake messages, an alert or a change_cipher_spec is
    parsed (a message cut by the record's end is a truncated message); anything else,
    and every application_data record, is opaque (``TLSCiphertext.encrypted_record``).

    >>> [node.name for node in preorder(parse_record(bytes.fromhex("1503030002012800")))]
    ['TLSPlaintext', 'TLSPlaintext.type', 'TLSPlaintext.legacy_record_version', 'TLSPlaintext.fragment', \
'Alert.level', 'Alert.description', 'TLSPlaintext.trailing']
    """
    reader = Reader(raw_record)
    if not reader.remaining:
        return Node("TLSPlaintext", Kind.STRUCT)
    content_type = reader.uint(1)
    ciphertext = content_type == ContentType.APPLICATION_DATA
    name = "TLSCiphertext" if ciphertext else "TLSPlaintext"
    children = [Node(f"{name}.opaque_type" if ciphertext else f"{name}.type", Kind.UINT, 1, content_type)]
    if reader.remaining:
        children.append(_leaf(Uint(2), f"{name}.legacy_record_version", reader))
    if reader.remaining:
        children.append(
            _fragment(f"{name}.encrypted_record" if ciphertext else f"{name}.fragment", content_type, reader)
        )
    return Node(name, Kind.STRUCT, children=_with_trailing(children, name, reader))


def preorder(node: Node) -> list[Node]:
    """Every node, parents before children, in wire order: the index a mutation addresses."""
    order: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        order.append(current)
        stack.extend(reversed(current.children))
    return order


def find(node: Node, name: str) -> Node | None:
    """The first node (in pre-order) named ``name``, or None."""
    for candidate in preorder(node):
        if candidate.name == name:
            return candidate
    return None


def _subtree_size(node: Node) -> int:
    return 1 + sum(_subtree_size(child) for child in node.children)


def with_children(node: Node, children: tuple[Node, ...]) -> Node:
    """``node`` holding ``children``; a declared length that matched the old content follows it (saturating)."""
    # A length that described its content keeps describing it; one that did not stays as it was.
    value = node.value
    if node.width and node.kind is not Kind.UINT and node.consistent:
        value = min(sum(child.width + content_size(child) for child in children), (1 << (8 * node.width)) - 1)
    return dataclasses.replace(node, value=value, children=children)


def splice(root: Node, index: int, replacement: tuple[Node, ...]) -> Node:
    """Replace the node at pre-order ``index`` with ``replacement`` (none, one or several nodes).

    Every ancestor whose declared length matched its content is updated to the new
    content size; lengths that were already wrong stay wrong. Replacing the root with
    anything but exactly one node gives a struct holding the replacement. An index out
    of range changes nothing.
    """
    if index == 0:
        if len(replacement) == 1:
            return replacement[0]
        return Node(root.name, Kind.STRUCT, children=replacement)
    offset = 1
    for position, child in enumerate(root.children):
        size = _subtree_size(child)
        if index < offset + size:
            if index == offset:
                children = root.children[:position] + replacement + root.children[position + 1 :]
            else:
                edited = splice(child, index - offset, replacement)
                children = (*root.children[:position], edited, *root.children[position + 1 :])
            return with_children(root, children)
        offset += size
    return root


def diff(a: Node, b: Node) -> str | None:
    """The name of the first field (depth first, most specific) where ``a`` and ``b`` differ, or None.

    A length that differs is only reported when everything inside it is equal; an
    element present on one side only is reported by its name on that side.
    """
    if a.kind is not b.kind or a.width != b.width:
        return a.name
    if a.kind is Kind.UINT:
        return a.name if a.value != b.value else None
    if a.data != b.data:
        return a.name
    for child_a, child_b in zip(a.children, b.children, strict=False):
        found = diff(child_a, child_b)
        if found is not None:
            return found
    if len(a.children) != len(b.children):
        longer = a if len(a.children) > len(b.children) else b
        return longer.children[min(len(a.children), len(b.children))].name
    return a.name if a.value != b.value else None


# Which code point names to show beside an integer, by the last part of its field name.
_VALUE_NAMES: dict[str, type[IntEnum]] = {
    "msg_type": HandshakeType,
    "cipher_suites": CipherSuite,
    "cipher_suite": CipherSuite,
    "extension_type": ExtensionType,
    "named_group_list": NamedGroup,
    "group": NamedGroup,
    "selected_group": NamedGroup,
    "supported_signature_algorithms": SignatureScheme,
    "algorithm": SignatureScheme,
    "versions": ProtocolVersion,
    "selected_version": ProtocolVersion,
    "legacy_version": ProtocolVersion,
    "legacy_record_version": ProtocolVersion,
    "type": ContentType,
    "opaque_type": ContentType,
    "request_update": KeyUpdateRequest,
    "description": AlertDescription,
}
_HEX_SHOWN = 136  # a P-521 key share (133 bytes) still shows in full


def _value_name(node: Node) -> str:
    field = node.name.rsplit(".", 1)[-1].split("[", 1)[0]
    enum = _VALUE_NAMES.get(field)
    if enum is None:
        return ""
    try:
        name = enum(node.value).name
    except ValueError:  # a closed enum (AlertDescription) without this value
        return ""
    return "" if name.startswith("UNKNOWN_") else f" ({name})"


def _hex(data: bytes) -> str:
    if len(data) <= _HEX_SHOWN:
        return data.hex()
    # Long fields: enough to recognise them, and a digest so any difference shows.
    return f"{data[:32].hex()}... sha256:{hashlib.sha256(data).hexdigest()[:16]}"


def _length(node: Node) -> str:
    size = content_size(node)
    if node.width == 0:
        return f"{size} bytes"
    if node.value == size:
        return f"length {size}"
    return f"length {node.value} but {size} bytes"


def _describe(node: Node) -> str:
    if node.kind is Kind.UINT:
        shown = str(node.value) if node.width == 1 else f"{node.value:#0{2 + 2 * node.width}x}"
        return f" = {shown}{_value_name(node)}"
    if node.kind is Kind.OPAQUE:
        return f" = {_hex(node.data)} ({_length(node)})"
    if node.kind is Kind.RAW:
        return f" = raw {_hex(node.data)} ({len(node.data)} bytes)"
    items = f", {len(node.children)} items" if node.kind is Kind.VECTOR else ""
    return f": {_length(node)}{items}"


def render(node: Node, depth: int = 0) -> list[str]:
    """One line per node, ``name = value``, indented by depth.

    >>> render(parse_message(bytes.fromhex("1800000101")))
    ['KeyUpdate: 5 bytes', '  KeyUpdate.msg_type = 24 (KEY_UPDATE)', '  KeyUpdate.body: length 1', \
'    KeyUpdate.request_update = 1 (UPDATE_REQUESTED)']
    """
    lines = [f"{'  ' * depth}{node.name}{_describe(node)}"]
    for child in node.children:
        lines += render(child, depth + 1)
    return lines
