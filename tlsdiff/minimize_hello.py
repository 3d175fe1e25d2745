"""Minimising a ClientHello body through its lenient field tree (``tlsdiff.fieldtree``).

The body is parsed as the target sees it (behind a ClientHello header), so even a
malformed one has a tree that re-encodes to exactly its bytes. Two passes repeat until
neither changes anything or the oracle's budget is spent: ddmin over the children of
every node, top down (the ClientHello's fields, the extensions, the elements of each
list, the fields of each extension), then ddmin over the bytes of every value. Declared
lengths that described their content go on describing it (``fieldtree.splice``); a
length that was already wrong stays wrong, since it may be what the finding is about.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from tlsdiff.ddmin import Oracle, ddmin
from tlsdiff.fieldtree import Kind, Node, encode, parse_message, preorder, splice, with_children
from tlsdiff.target_hello import handshake_message

__all__ = ["minimize_client_hello"]

_BODY_INDEX = 2  # pre-order: the message, its msg_type, then its body (whose children are the ClientHello's fields)
_HEADER_SIZE = 4
_VALUE_KINDS = (Kind.OPAQUE, Kind.RAW)

# What a sweep does at one node: (tree, pre-order index, node, oracle) -> the new body, None if unchanged.
_Edit = Callable[[Node, int, Node, Oracle], bytes | None]


def minimize_client_hello(body: bytes, oracle: Oracle) -> bytes:
    """The smallest body the passes reach from ``body`` (never longer) with the oracle's signature kept."""
    current = body
    while not oracle.exhausted:
        before = current
        current = _sweep(current, oracle, _drop_children)
        current = _sweep(current, oracle, _shorten_value)
        if current == before:
            break
    return current


def _tree(body: bytes) -> Node:
    return parse_message(handshake_message(body))


def _body(tree: Node) -> bytes:
    return encode(tree)[_HEADER_SIZE:]


def _sweep(body: bytes, oracle: Oracle, edit: _Edit) -> bytes:
    """``edit`` applied to each node in pre-order; the tree is parsed again after each change, and the index
    moves on (a list of thousands of elements is parsed once per element removed, not once per element)."""
    tree = _tree(body)
    nodes = preorder(tree)
    index = _BODY_INDEX
    while index < len(nodes) and not oracle.exhausted:
        edited = edit(tree, index, nodes[index], oracle)
        if edited is not None:
            body = edited
            tree = _tree(body)
            nodes = preorder(tree)
        index += 1
    return body


def _drop_children(tree: Node, index: int, node: Node, oracle: Oracle) -> bytes | None:
    """ddmin over the node's children: fields, extensions, list elements."""

    def rebuilt(children: tuple[Node, ...]) -> bytes:
        return _body(splice(tree, index, (with_children(node, children),)))

    if not node.children:
        return None
    kept = ddmin(node.children, lambda children: oracle.keeps(rebuilt(children)), oracle)
    return rebuilt(kept) if len(kept) < len(node.children) else None


def _with_data(node: Node, data: bytes) -> Node:
    """``node`` holding ``data``; a declared length that matched its old data follows it."""
    value = len(data) if node.width and node.consistent else node.value
    return dataclasses.replace(node, data=data, value=value)


def _shorten_value(tree: Node, index: int, node: Node, oracle: Oracle) -> bytes | None:
    """ddmin over the bytes of an opaque or raw value."""

    def rebuilt(data: tuple[int, ...]) -> bytes:
        return _body(splice(tree, index, (_with_data(node, bytes(data)),)))

    if node.kind not in _VALUE_KINDS or not node.data:
        return None
    kept = ddmin(node.data, lambda data: oracle.keeps(rebuilt(data)), oracle)
    return rebuilt(kept) if len(kept) < len(node.data) else None
