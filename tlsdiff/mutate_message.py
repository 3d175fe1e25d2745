"""Mutations of one handshake message through its lenient field tree (``tlsdiff.fieldtree``).

A mutation is four integers and some bytes: ``(op, node_index, value, data)``. The op
is taken modulo the number of ops and the node index modulo the nodes the op can
apply to (in pre-order), so every input names a mutation and a fuzz scenario can carry
mutations as plain integers. An op with nothing to apply to leaves the message as it
was. Lengths that described their content are kept right around an edit (so the edit
is what the target sees, not a broken outer length), unless the op is to break a
length. Nothing here raises, whatever the input, and no output exceeds ``max_size``.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from engine.wire.extensions import ExtensionType
from tlsdiff.fieldtree import Kind, Node, content_size, encode, parse_message, preorder, splice, with_children

__all__ = [
    "DEFAULT_MAX_SIZE",
    "KNOWN_EXTENSIONS",
    "MessageOp",
    "apply_message_mutation",
    "bounded",
    "filler",
    "mutate_message",
]

DEFAULT_MAX_SIZE = 1 << 17
"""The output bound when the caller gives none: two maximal 64 KiB handshake messages."""

_LONG = 0xFFFF  # "very long": what a two-byte length can frame
_MAX_REPEATS = 4096


class MessageOp(IntEnum):
    """The message mutations; ``value`` picks the variant (see each op's function)."""

    SET_INT = 0
    SET_LENGTH = 1
    SET_CONTENT = 2
    DELETE_ELEMENT = 3
    DUPLICATE_ELEMENT = 4
    SWAP_ELEMENTS = 5
    REPEAT_ELEMENT = 6
    INSERT_EXTENSION = 7
    DELETE_EXTENSION = 8
    DUPLICATE_EXTENSION = 9
    SHUFFLE_EXTENSIONS = 10
    EXTENSION_TO_END = 11
    EXTENSION_TO_FRONT = 12
    TRUNCATE = 13
    APPEND_TRAILING = 14
    INSERT_TRAILING = 15


_E = ExtensionType
KNOWN_EXTENSIONS: tuple[tuple[int, bytes], ...] = (
    (_E.SUPPORTED_VERSIONS, bytes.fromhex("0304")),  # ServerHello form
    (_E.SUPPORTED_VERSIONS, bytes.fromhex("0403040303")),  # ClientHello form
    (_E.KEY_SHARE, bytes.fromhex("001d0020") + bytes(range(32))),  # ServerHello form (x25519)
    (_E.KEY_SHARE, bytes.fromhex("0022001d0020") + bytes(range(32))),  # ClientHello form
    (_E.KEY_SHARE, bytes.fromhex("0017")),  # HelloRetryRequest form
    (_E.PRE_SHARED_KEY, bytes.fromhex("0000")),  # ServerHello form
    (_E.PRE_SHARED_KEY, bytes.fromhex("000a0004746b7431000000000021200000") + bytes(31)),  # ClientHello form
    (_E.EARLY_DATA, b""),
    (_E.EARLY_DATA, bytes.fromhex("00004000")),  # NewSessionTicket form
    (_E.COOKIE, bytes.fromhex("0004636f6f6b")),
    (_E.SERVER_NAME, b""),  # the server's acknowledgement
    (_E.SERVER_NAME, bytes.fromhex("000c0000096c6f63616c686f7374")),
    (_E.APPLICATION_LAYER_PROTOCOL_NEGOTIATION, bytes.fromhex("0003026832")),
    (_E.SUPPORTED_GROUPS, bytes.fromhex("0004001d0017")),
    (_E.SIGNATURE_ALGORITHMS, bytes.fromhex("000404030804")),
    (_E.SIGNATURE_ALGORITHMS_CERT, bytes.fromhex("00020403")),
    (_E.PSK_KEY_EXCHANGE_MODES, bytes.fromhex("0101")),
    (_E.RECORD_SIZE_LIMIT, bytes.fromhex("4001")),
    (_E.MAX_FRAGMENT_LENGTH, bytes.fromhex("04")),
    (_E.STATUS_REQUEST, b""),
    (_E.STATUS_REQUEST, bytes.fromhex("0100000000")),
    (_E.PADDING, bytes(16)),
    (_E.CERTIFICATE_AUTHORITIES, bytes.fromhex("00050003616263")),
    (_E.POST_HANDSHAKE_AUTH, b""),
    (_E.EXTENDED_MASTER_SECRET, b""),
    (_E.SESSION_TICKET, b""),
    (_E.EC_POINT_FORMATS, bytes.fromhex("0100")),
    (_E.RENEGOTIATION_INFO, bytes.fromhex("00")),
    (_E.SIGNED_CERTIFICATE_TIMESTAMP, b""),
    (_E.QUIC_TRANSPORT_PARAMETERS, b""),
)
"""Extension bodies as other messages carry them, to insert where they do not belong."""


def bounded(result: bytes, original: bytes, max_size: int) -> bytes:
    """``result`` if it fits ``max_size``; else the op is skipped (``original``), clipped if that too is over."""
    limit = max(max_size, 0)
    if len(result) <= limit:
        return result
    return original if len(original) <= limit else original[:limit]


def filler(data: bytes, length: int, byte: int) -> bytes:
    """``length`` bytes: ``data`` repeated, or ``byte`` repeated when ``data`` is empty."""
    length = max(length, 0)
    if not data:
        return bytes([byte & 0xFF]) * length
    return (data * (length // len(data) + 1))[:length]


@dataclass(frozen=True, slots=True)
class _Tree:
    """A parsed message and, per pre-order index, the node, its parent's index and its position there."""

    root: Node
    nodes: tuple[Node, ...]
    parents: tuple[int, ...]
    positions: tuple[int, ...]
    room: int  # bytes the output may still grow by

    @classmethod
    def of(cls, raw: bytes, max_size: int) -> _Tree:
        root = parse_message(raw)
        parents: list[int] = []
        positions: list[int] = []
        stack = [(root, -1, 0)]
        while stack:  # the same walk as ``preorder``, so indexes agree
            node, parent, position = stack.pop()
            index = len(parents)
            parents.append(parent)
            positions.append(position)
            stack.extend((child, index, at) for at, child in reversed(list(enumerate(node.children))))
        return cls(root, tuple(preorder(root)), tuple(parents), tuple(positions), max_size - len(raw))

    def pick(self, node_index: int, accept: Callable[[int], bool]) -> int | None:
        """The ``node_index``-th (modulo) node index that ``accept`` takes, or None."""
        candidates = [index for index in range(len(self.nodes)) if accept(index)]
        return candidates[node_index % len(candidates)] if candidates else None

    def parent(self, index: int) -> Node | None:
        return self.nodes[self.parents[index]] if self.parents[index] >= 0 else None

    def in_vector(self, index: int) -> bool:
        parent = self.parent(index)
        return parent is not None and parent.kind is Kind.VECTOR

    def is_extension(self, index: int) -> bool:
        parent = self.parent(index)
        return parent is not None and _is_extension_list(parent)

    def replace(self, index: int, *nodes: Node) -> Node:
        return splice(self.root, index, nodes)

    def regroup(self, index: int, children: tuple[Node, ...]) -> Node:
        """The tree with the children of node ``index`` replaced (its length follows if it was right)."""
        return splice(self.root, index, (with_children(self.nodes[index], children),))


def _is_extension_list(node: Node) -> bool:
    return node.kind is Kind.VECTOR and node.name.endswith(".extensions")


def _top(width: int) -> int:
    return (1 << (8 * max(width, 0))) - 1


def _set_int(tree: _Tree, node_index: int, value: int, data: bytes) -> Node | None:
    """An integer set to 0, 1, its maximum, maximum - 1, or ``value // 5`` (by ``value % 5``)."""
    index = tree.pick(node_index, lambda i: tree.nodes[i].kind is Kind.UINT)
    if index is None:
        return None
    node = tree.nodes[index]
    top = _top(node.width)
    new = (0, 1, top, top - 1, value // 5)[value % 5] % (top + 1)
    return tree.replace(index, dataclasses.replace(node, value=new))


def _set_length(tree: _Tree, node_index: int, value: int, data: bytes) -> Node | None:
    """A declared length set to +1, -1, 0, the maximum or ``value // 5`` (its content unchanged)."""
    index = tree.pick(node_index, lambda i: tree.nodes[i].width > 0 and tree.nodes[i].kind is not Kind.UINT)
    if index is None:
        return None
    node = tree.nodes[index]
    top = _top(node.width)
    new = (node.value + 1, node.value - 1, 0, top, value // 5)[value % 5] % (top + 1)
    return tree.replace(index, dataclasses.replace(node, value=new))


def _set_content(tree: _Tree, node_index: int, value: int, data: bytes) -> Node | None:
    """Opaque or raw bytes replaced: empty, one byte, ``data``, the prefix's maximum, one past it, or random size."""
    index = tree.pick(node_index, lambda i: tree.nodes[i].kind in (Kind.OPAQUE, Kind.RAW))
    if index is None:
        return None
    node = tree.nodes[index]
    room = max(tree.room + len(node.data), 0)
    cap = _top(node.width) if node.width else _LONG
    sizes = (0, 1, len(data), cap, cap + 1, (value // 6) % (_LONG + 1))
    size = min(sizes[value % 6], room)
    content = data[:size] if value % 6 == 2 else filler(data, size, value // 6)
    new_value = len(content) if node.width and node.consistent else node.value
    return tree.replace(index, dataclasses.replace(node, data=content, value=min(new_value, _top(node.width))))


def _element_op(keep: Callable[[_Tree, int], bool], action: str) -> Callable[[_Tree, int, int, bytes], Node | None]:
    """The op that deletes, duplicates, swaps or moves ("end", "front") an element ``keep`` accepts."""

    def op(tree: _Tree, node_index: int, value: int, data: bytes) -> Node | None:
        index = tree.pick(node_index, lambda i: keep(tree, i))
        if index is None:
            return None
        node = tree.nodes[index]
        if action == "delete":
            return tree.replace(index)
        if action == "duplicate":
            return tree.replace(index, node, node)
        return _move(tree, index, value, action)

    return op


def _move(tree: _Tree, index: int, value: int, action: str) -> Node:
    """Swap the element with the one at ``value`` (modulo), or move it to the end or the front."""
    parent_index = tree.parents[index]
    siblings = list(tree.nodes[parent_index].children)
    position = tree.positions[index]
    if action == "swap":
        other = value % len(siblings)
        siblings[position], siblings[other] = siblings[other], siblings[position]
    else:
        moved = siblings.pop(position)
        siblings = [*siblings, moved] if action == "end" else [moved, *siblings]
    return tree.regroup(parent_index, tuple(siblings))


def _repeat_element(tree: _Tree, node_index: int, value: int, data: bytes) -> Node | None:
    """A list element followed by ``value % 4096`` copies of itself, as many as the size budget allows."""
    index = tree.pick(node_index, tree.in_vector)
    if index is None:
        return None
    node = tree.nodes[index]
    size = node.width + content_size(node)
    copies = min(value % _MAX_REPEATS, max(tree.room, 0) // max(size, 1))
    return tree.replace(index, *([node] * (copies + 1)))


def _new_extension(value: int, data: bytes, room: int) -> Node:
    """By ``value % 3``: a known extension from ``KNOWN_EXTENSIONS``, a GREASE one, or any code point."""
    choice, pick = value % 3, value // 3
    if choice == 0:
        extension_type, body = KNOWN_EXTENSIONS[pick % len(KNOWN_EXTENSIONS)]
    elif choice == 1:
        extension_type, body = 0x0A0A + 0x1010 * (pick % 16), data
    else:
        extension_type, body = pick & 0xFFFF, data
    body = body[: min(_LONG, max(room - 4, 0))]
    return Node(
        "extension",
        Kind.STRUCT,
        children=(
            Node("extension.extension_type", Kind.UINT, 2, int(extension_type)),
            Node("extension.extension_data", Kind.OPAQUE, 2, len(body), body),
        ),
    )


def _insert_extension(tree: _Tree, node_index: int, value: int, data: bytes) -> Node | None:
    """An extension inserted into an extensions list, at position ``value // 3 % (n + 1)``."""
    index = tree.pick(node_index, lambda i: _is_extension_list(tree.nodes[i]))
    if index is None:
        return None
    children = tree.nodes[index].children
    position = (value // 3) % (len(children) + 1)
    extension = _new_extension(value, data, tree.room)
    return tree.regroup(index, (*children[:position], extension, *children[position:]))


def _shuffle_extensions(tree: _Tree, node_index: int, value: int, data: bytes) -> Node | None:
    """The extensions of a list in an order drawn from ``value``."""
    index = tree.pick(node_index, lambda i: _is_extension_list(tree.nodes[i]))
    if index is None:
        return None
    children = list(tree.nodes[index].children)
    random.Random(value).shuffle(children)  # noqa: S311 -- a reproducible order, not a secret
    return tree.regroup(index, tuple(children))


def _insert_trailing(tree: _Tree, node_index: int, value: int, data: bytes) -> Node | None:
    """Bytes (``data``, else one byte of ``value``) added at the end of a length-delimited region, inside it."""
    index = tree.pick(node_index, lambda i: tree.nodes[i].width > 0 and tree.nodes[i].kind in _REGIONS)
    if index is None:
        return None
    node = tree.nodes[index]
    extra = (data or bytes([value & 0xFF]))[: max(tree.room, 0)]
    return tree.regroup(index, (*node.children, Node(f"{node.name}.trailing", Kind.RAW, data=extra)))


_REGIONS = (Kind.STRUCT, Kind.VECTOR)
_TreeOp = Callable[[_Tree, int, int, bytes], Node | None]
_TREE_OPS: dict[MessageOp, _TreeOp] = {
    MessageOp.SET_INT: _set_int,
    MessageOp.SET_LENGTH: _set_length,
    MessageOp.SET_CONTENT: _set_content,
    MessageOp.DELETE_ELEMENT: _element_op(_Tree.in_vector, "delete"),
    MessageOp.DUPLICATE_ELEMENT: _element_op(_Tree.in_vector, "duplicate"),
    MessageOp.SWAP_ELEMENTS: _element_op(_Tree.in_vector, "swap"),
    MessageOp.REPEAT_ELEMENT: _repeat_element,
    MessageOp.INSERT_EXTENSION: _insert_extension,
    MessageOp.DELETE_EXTENSION: _element_op(_Tree.is_extension, "delete"),
    MessageOp.DUPLICATE_EXTENSION: _element_op(_Tree.is_extension, "duplicate"),
    MessageOp.SHUFFLE_EXTENSIONS: _shuffle_extensions,
    MessageOp.EXTENSION_TO_END: _element_op(_Tree.is_extension, "end"),
    MessageOp.EXTENSION_TO_FRONT: _element_op(_Tree.is_extension, "front"),
    MessageOp.INSERT_TRAILING: _insert_trailing,
}


def apply_message_mutation(
    raw: bytes, op: int, node_index: int, value: int, data: bytes, *, max_size: int = DEFAULT_MAX_SIZE
) -> bytes:
    """``raw`` (one handshake message, or any bytes) with mutation ``op`` applied to the ``node_index``-th candidate.

    ``op`` is a ``MessageOp`` modulo their number; ``value`` picks the variant and
    ``data`` supplies bytes where an op needs them. TRUNCATE cuts the message at
    ``value`` modulo its size + 1; APPEND_TRAILING adds ``data`` (or one byte) after
    the message, outside its length. An output over ``max_size`` skips the op.

    >>> apply_message_mutation(bytes.fromhex("1800000101"), MessageOp.SET_INT, 1, 2, b"").hex()
    '18000001ff'
    """
    raw, data = bytes(raw), bytes(data)
    chosen = MessageOp(op % len(MessageOp))
    if chosen is MessageOp.TRUNCATE:
        return bounded(raw[: value % (len(raw) + 1)], raw, max_size)
    if chosen is MessageOp.APPEND_TRAILING:
        extra = (data or bytes([value & 0xFF]))[: max(max_size - len(raw), 0)]
        return bounded(raw + extra, raw, max_size)
    tree = _Tree.of(raw, max_size)
    mutated = _TREE_OPS[chosen](tree, node_index, value, data)
    return bounded(raw if mutated is None else encode(mutated), raw, max_size)


def mutate_message(raw: bytes, rng: random.Random, budget: int) -> bytes:
    """One mutation of ``raw`` drawn from ``rng``, the output at most ``budget`` bytes."""
    op = rng.randrange(len(MessageOp))
    node_index = rng.getrandbits(32)
    value = rng.getrandbits(64)
    data = rng.randbytes(rng.choice((0, 1, 2, 3, 4, 8, 16, 32, 64, 256)))
    return apply_message_mutation(raw, op, node_index, value, data, max_size=budget)
