"""The ClientHello parse differential: the engine's s2n-mode parser against ``s2n_client_hello_parse_message``.

The input is a ClientHello *body*; the target prepends the handshake header (type 1,
u24 length). The engine parses it with ``decode_client_hello_as_s2n`` (what its server
uses under ``Compat.lenient_client_hello``); s2n parses it with
``s2n_client_hello_parse_message`` and every public ClientHello getter is read back
(``s2n_bridge.client_hello.parse_client_hello_fields``). They must agree on

1. the verdict: both accept or both reject (``verdict`` tier);
2. when both reject, what the error means (``alert`` tier, by ``tlsdiff.errors_table``);
3. when both accept, every field s2n exposes, in ``ParsedClientHello`` order (``bytes``
   tier, the first differing field named in the signature).

An exception other than ``TLSError`` out of the engine is a crash finding. The custom
mutator works on the lenient field tree of the message (``tlsdiff.fieldtree``, and the
shared message operators of ``tlsdiff.mutate`` when that module imports), so lengths
stay consistent where it wants them to and extensions can be duplicated, inserted,
reordered or cut; it hands a share of its work to libFuzzer's own mutations
(``atheris.Mutate``) so ``-dict`` tokens stay live.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import TLSError
from engine.wire.handshake import ClientHello, HandshakeType, decode_client_hello_as_s2n
from engine.wire.reader import Reader
from engine.wire.s2n_bodies import s2n_supported_groups
from s2n_bridge.client_hello import S2N_PARSED_EXTENSION_TYPES, ParsedClientHello, parse_client_hello_fields
from s2n_bridge.errors import S2NError
from tlsdiff.errors_table import meaning_of, same_meaning
from tlsdiff.fieldtree import Kind, Node, content_size, encode, parse_message, preorder, render, splice
from tlsdiff.findings import Finding, LazyLines
from tlsdiff.oracle import divergence_error_class

__all__ = ["ClientHelloMutator", "ClientHelloParseTarget", "engine_view", "handshake_message"]

ByteMutate = Callable[[bytes, int], bytes]

_ROLE, _STEP, _MESSAGE = "server", "parse", "ClientHello"
_MAX_BODY = (1 << 24) - 1  # what a u24 length can say
_PARSE_CALL = "s2n_client_hello_parse_message"
_FIELDS = tuple(field.name for field in dataclasses.fields(ParsedClientHello))
_SUPPORTED_GROUPS, _SERVER_NAME = 10, 0
_SHOWN = 96  # bytes of a value shown in full in diff lines
_MAX_TREE_BODY = 2048  # larger bodies are mutated as bytes (a real ClientHello is 200 to 1500 bytes)


def handshake_message(body: bytes) -> bytes:
    """``body`` behind a ClientHello handshake header (a body too long for a u24 is cut)."""
    body = body[:_MAX_BODY]
    return bytes((HandshakeType.CLIENT_HELLO,)) + len(body).to_bytes(3, "big") + body


def _first_body(extensions: tuple[tuple[int, bytes], ...], extension_type: int) -> bytes | None:
    return next((body for kind, body in extensions if kind == extension_type), None)


def _groups(body: bytes | None) -> tuple[int, ...] | None:
    return None if body is None else s2n_supported_groups(body)


def _host_name(body: bytes | None) -> bytes | None:
    """The name s2n's getter returns: ``s2n_client_server_name_parse`` alone (tls/extensions/
    s2n_client_server_name.c:63-82), without the server's 255-byte cap and C-string cut
    (``engine.wire.s2n_bodies.s2n_server_name`` models those, for what the server keeps)."""
    if body is None:
        return None
    reader = Reader(body)
    try:
        if reader.uint(2) > reader.remaining or reader.uint(1) != 0:
            return None
        return bytes(reader.vector(2))
    except TLSError:  # a read past the body: s2n's getter fails, and so it has no name
        return None


def engine_view(body: bytes, hello: ClientHello) -> ParsedClientHello:
    """What the engine read from ``body``, in the shape of s2n's getters (``ParsedClientHello``).

    The version takes s2n's one-byte form; the raw message has the random zeroed as s2n
    erases it; supported_groups and server_name are what the engine's server reads from
    those extensions (``engine.wire.s2n_bodies``, s2n's receive functions modelled), None
    where it ignores them.
    """
    extensions = tuple((extension.extension_type, extension.data) for extension in hello.extensions)
    known = {kind: data for kind, data in reversed(extensions) if kind in S2N_PARSED_EXTENSION_TYPES}
    major, minor = hello.legacy_version >> 8, hello.legacy_version & 0xFF
    return ParsedClientHello(
        raw_message=body[:2] + bytes(32) + body[34:],
        legacy_version=(major * 10 + minor) & 0xFF,  # tls/s2n_client_hello.c stores it in a uint8_t
        random=hello.random,
        session_id=hello.legacy_session_id,
        cipher_suites=b"".join(suite.to_bytes(2, "big") for suite in hello.cipher_suites),
        compression_methods=hello.legacy_compression_methods,
        extensions_block=b"".join(kind.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data
                                  for kind, data in extensions),
        extensions=extensions,
        parsed_extensions=tuple((kind, known[kind]) for kind in S2N_PARSED_EXTENSION_TYPES if kind in known),
        supported_groups=_groups(_first_body(extensions, _SUPPORTED_GROUPS)),
        server_name=_host_name(_first_body(extensions, _SERVER_NAME)),
        legacy_record_version=None,  # no record header reaches either parser
    )  # fmt: skip


@dataclass(frozen=True)
class _Verdict:
    """One side's answer: the parsed fields, or the error it rejected with."""

    fields: ParsedClientHello | None
    error: str = ""
    detail: str = ""

    @property
    def described(self) -> str:
        return "accepted" if self.fields is not None else self.error

    def summary(self) -> dict[str, str]:
        return {"verdict": self.described, "detail": self.detail, "meaning": meaning_of(self.error)}


def _s2n_verdict(message: bytes) -> _Verdict:
    try:
        return _Verdict(parse_client_hello_fields(message))
    except S2NError as error:
        # A getter failing after a successful parse is named by the getter: s2n kept what it cannot report.
        name = error.name if error.call == _PARSE_CALL else f"{error.name}@{error.call}"
        return _Verdict(None, name, str(error))


def _value(value: object) -> str:
    if isinstance(value, bytes):
        shown = value[:_SHOWN].hex()
        return f"{shown}{'...' if len(value) > _SHOWN else ''} ({len(value)} bytes)"
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return "[" + ", ".join(f"{kind:#06x}:{len(body)}" for kind, body in value) + "]"
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{item:#06x}" for item in value) + "]"
    return repr(value)


def _element_detail(field: str, engine: object, s2n: object) -> list[str]:
    """For a list of extensions, the first element that differs."""
    if not (isinstance(engine, tuple) and isinstance(s2n, tuple)):
        return []
    for index in range(max(len(engine), len(s2n))):
        left = engine[index] if index < len(engine) else None
        right = s2n[index] if index < len(s2n) else None
        if left != right:
            return [f"  first difference at {field}[{index}]: engine={left!r:.300}", f"{'':>30}s2n={right!r:.300}"]
    return []


def _field_lines(engine: ParsedClientHello, s2n: ParsedClientHello) -> tuple[str | None, list[str]]:
    """The first differing field, and one side-by-side line per field ("!" marks a difference)."""
    first: str | None = None
    lines: list[str] = []
    for field in _FIELDS:
        left, right = getattr(engine, field), getattr(s2n, field)
        mark = " " if left == right else "!"
        lines.append(f"{mark} {field:<22} engine={_value(left)}")
        if left != right:
            lines.append(f"  {'':<22}    s2n={_value(right)}")
            lines += _element_detail(field, left, right)
            first = first or field
    return first, lines


def _diff_lines(head: list[str], message: bytes) -> list[str]:
    title = "ClientHello as the lenient field tree (tlsdiff.fieldtree) reads it:"
    return [*head, "", title, *render(parse_message(message))]


def _finding(target: str, tier: str, field_path: str, message: bytes, lines: list[str], **extra: object) -> Finding:
    signature = "/".join((tier, _ROLE, _STEP, _MESSAGE, field_path))
    summary = {"tier": tier, "role": _ROLE, "step": _STEP, "message": _MESSAGE, "field_path": field_path, **extra}
    return Finding(
        target=target,
        signature=signature,
        identifier=divergence_error_class(signature).__name__,
        summary=summary,
        diff_lines=LazyLines(lambda: _diff_lines([signature, "", *lines], message)),
    )


def _compare(target: str, message: bytes, engine: _Verdict, s2n: _Verdict) -> Finding | None:
    verdicts = f"engine={engine.described}|s2n={s2n.described}"
    sides = {"engine": engine.summary(), "s2n": s2n.summary()}
    lines = [f"engine: {engine.described} {engine.detail}", f"s2n:    {s2n.described} {s2n.detail}"]
    if engine.fields is None and s2n.fields is None:
        if same_meaning(engine.error, s2n.error):
            return None
        return _finding(target, "alert", verdicts, message, lines, **sides)
    if engine.fields is None or s2n.fields is None:
        return _finding(target, "verdict", verdicts, message, lines, **sides)
    if engine.fields == s2n.fields:  # the common case: no diff lines to build
        return None
    field, field_lines = _field_lines(engine.fields, s2n.fields)
    if field is None:
        return None
    differing = {
        name: [_value(getattr(engine.fields, name)), _value(getattr(s2n.fields, name))]
        for name in _FIELDS
        if getattr(engine.fields, name) != getattr(s2n.fields, name)
    }
    return _finding(target, "bytes", field, message, field_lines, fields=differing, **sides)


def _crash(target: str, error: Exception) -> Finding:
    from tlsdiff.targets import crash_finding  # noqa: PLC0415  (tlsdiff.targets imports this module)

    return crash_finding(target, _ROLE, error, None)


class ClientHelloParseTarget:
    """The ``client_hello_parse`` target: one ClientHello body, two parsers, every field compared."""

    name = "client_hello_parse"
    description = "ClientHello bodies: the engine's s2n-mode parser against s2n_client_hello_parse_message"

    def __init__(self, byte_mutate: ByteMutate | None = None) -> None:
        self.mutator: Callable[[bytes, int, int], bytes] | None = ClientHelloMutator(byte_mutate)

    def check(self, data: bytes) -> Finding | None:
        """The finding ``data`` (a ClientHello body) makes, or None when the engine and s2n agree."""
        message = handshake_message(data)
        body = message[4:]
        try:
            try:
                hello = decode_client_hello_as_s2n(body)
            except TLSError as error:
                engine = _Verdict(None, type(error).__name__, str(error))
            else:
                engine = _Verdict(engine_view(body, hello))
        except Exception as error:  # anything but a TLSError out of the engine is a finding
            return _crash(self.name, error)
        return _compare(self.name, message, engine, _s2n_verdict(message))


# Two-byte values worth trying in any integer field: versions, suites, extension and group code points.
_INTERESTING_U16 = (
    0x0000, 0x0001, 0x0002, 0x0300, 0x0301, 0x0303, 0x0304, 0x7F1C, 0x1301, 0x1302, 0x1303, 0x00FF, 0x5600,
    0x000A, 0x000D, 0x0010, 0x0017, 0x001D, 0x0018, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x0033,
    0x0039, 0xFE01, 0xFF01, 0x3374, 0x002F, 0x11EC, 0x6399, 0xFFFF, 0x8000,
)  # fmt: skip


def _default_byte_mutate(data: bytes, max_size: int) -> bytes:
    from tlsdiff.scenario_mutator import byte_mutate  # noqa: PLC0415  (atheris, imported late)

    return byte_mutate(data, max_size)


class ClientHelloMutator:
    """Structure-aware mutations of a ClientHello body over its lenient field tree.

    About a quarter of the calls, and every fallback, go to ``byte_mutate`` (libFuzzer's
    ``atheris.Mutate`` by default), on the whole body or inside one field. Randomness
    comes from ``seed`` only; it never raises and never returns more than ``max_size``.
    """

    def __init__(self, byte_mutate: ByteMutate | None = None) -> None:
        self._byte_mutate = byte_mutate or _default_byte_mutate

    def __call__(self, data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)  # noqa: S311  (libFuzzer's seed drives the mutations; nothing secret)
        try:
            if not data or rng.random() < 0.25:
                mutated = self._byte_mutate(data, max_size)
            elif len(data) > _MAX_TREE_BODY:
                # A field tree of thousands of list elements costs more than the check; cut, or go bytewise.
                cut = data[: rng.randrange(_MAX_TREE_BODY // 2, _MAX_TREE_BODY)]
                mutated = cut if rng.random() < 0.3 else self._byte_mutate(data, max_size)
            else:
                mutated = self._structural(data, rng, max_size)
        except Exception:  # an exception here aborts libFuzzer: fall back to bytes
            try:
                mutated = self._byte_mutate(data, max_size)
            except Exception:
                mutated = data
        return mutated[:max_size]

    def _structural(self, body: bytes, rng: random.Random, max_size: int) -> bytes:
        if rng.random() < 0.3:
            shared = _shared_message_mutation(body, rng, max_size)
            if shared is not None:
                return shared
        choice = rng.randrange(10)
        if choice == 0:  # bytes after the extensions block: s2n ignores them
            return body + rng.randbytes(rng.choice((1, 2, 3, 8)))
        if choice == 1:
            return body[: rng.randrange(len(body) + 1)]
        tree = parse_message(handshake_message(body))
        nodes = preorder(tree)
        if len(nodes) <= 3:  # root, msg_type and the body length: nothing of the body to work on
            return self._byte_mutate(body, max_size)
        index = rng.randrange(3, len(nodes))
        edited = _edit_tree(tree, nodes, index, rng=rng, choice=choice, mutate_bytes=self._mutate_field)
        return encode(edited)[4:]

    def _mutate_field(self, data: bytes) -> bytes:
        return self._byte_mutate(data, len(data) + 64)


def _shared_message_mutation(body: bytes, rng: random.Random, max_size: int) -> bytes | None:
    """One of the project's message mutations (``tlsdiff.mutate``), or None where that module is unavailable."""
    try:
        from tlsdiff.mutate import mutate_message  # noqa: PLC0415  (optional: the local ops stand in)
    except ImportError:
        return None
    # Mutations of the header are lost when it is cut off again: the target writes its own.
    return mutate_message(handshake_message(body), rng, max_size + 4)[4:]


def _with_data(node: Node, data: bytes) -> Node:
    value = len(data) if node.consistent and node.width else node.value
    return dataclasses.replace(node, data=data, value=value)


def _extension(rng: random.Random) -> Node:
    kind = rng.choice((*S2N_PARSED_EXTENSION_TYPES, rng.randrange(1 << 16)))
    data = rng.randbytes(rng.choice((0, 0, 1, 2, 4, 8)))
    extension_type = Node("extension_type", Kind.UINT, 2, kind)
    extension_data = Node("extension_data", Kind.OPAQUE, 2, len(data), data)
    return Node("extension", Kind.STRUCT, children=(extension_type, extension_data))


def _integer(node: Node, rng: random.Random) -> int:
    top = (1 << (8 * node.width)) - 1
    candidates = [0, 1, top, node.value + 1, node.value - 1, rng.randrange(top + 1)]
    if node.width == 2:
        candidates.append(rng.choice(_INTERESTING_U16))
    return rng.choice(candidates) % (top + 1)


def _insert_extension(tree: Node, nodes: list[Node], rng: random.Random) -> Node | None:
    where = next((i for i, n in enumerate(nodes) if n.kind is Kind.VECTOR and n.name.endswith(".extensions")), None)
    if where is None:
        return None
    extensions = nodes[where]
    children = list(extensions.children)
    children.insert(rng.randrange(len(children) + 1), _extension(rng))
    # A length that described the list keeps describing it; a wrong one stays wrong.
    size = content_size(dataclasses.replace(extensions, children=tuple(children)))
    value = size if extensions.consistent else extensions.value
    return splice(tree, where, (dataclasses.replace(extensions, children=tuple(children), value=value),))


def _reshape(tree: Node, nodes: list[Node], index: int, rng: random.Random, choice: int) -> Node | None:
    """Edits of where nodes are: delete, duplicate, swap two list elements, insert an extension."""
    node = nodes[index]
    replacement: tuple[Node, ...] | None = None
    if choice == 2:
        replacement = ()
    elif choice == 3:
        replacement = (node, node)  # repeated extensions, suites, list entries
    elif choice == 4 and node.kind is Kind.VECTOR and len(node.children) >= 2:
        children = list(node.children)
        first, second = rng.sample(range(len(children)), 2)
        children[first], children[second] = children[second], children[first]
        replacement = (dataclasses.replace(node, children=tuple(children)),)
    elif choice == 5:
        return _insert_extension(tree, nodes, rng)
    return None if replacement is None else splice(tree, index, replacement)


def _rewrite(node: Node, rng: random.Random, choice: int, mutate_bytes: Callable[[bytes], bytes]) -> Node:
    """Edits of what a node says: an integer, a declared length, or its bytes."""
    if node.kind is Kind.UINT:
        return dataclasses.replace(node, value=_integer(node, rng))
    if choice == 6 and node.width:
        size = content_size(node)
        value = rng.choice((0, size - 1, size + 1, (1 << (8 * node.width)) - 1, rng.randrange(size + 2)))
        return dataclasses.replace(node, value=max(value, 0))
    if node.kind in (Kind.OPAQUE, Kind.RAW):
        return _with_data(node, mutate_bytes(node.data))
    return node


def _edit_tree(tree: Node, nodes: list[Node], index: int, *, rng: random.Random, choice: int,
               mutate_bytes: Callable[[bytes], bytes]) -> Node:  # fmt: skip
    """One structural edit of the node at pre-order ``index`` (``choice`` picks the kind of edit)."""
    reshaped = _reshape(tree, nodes, index, rng, choice)
    if reshaped is not None:
        return reshaped
    node = nodes[index]
    rewritten = _rewrite(node, rng, choice, mutate_bytes)
    if rewritten != node:
        return splice(tree, index, (rewritten,))
    return splice(tree, index, (node, node) if choice % 2 else ())
