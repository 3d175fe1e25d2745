"""The declarative codec: dataclass fields name their wire form, one reader and one writer serve all.

A message is a frozen dataclass deriving from ``Struct``; each field on the wire is
annotated with its form, in the order of the RFC's presentation language::

    @dataclass(frozen=True, slots=True)
    class KeyShareEntry(Struct):
        group: Uint16
        key_exchange: Annotated[bytes, Opaque(2, minimum=1)]

``Struct.decode`` reads the fields in order through a ``Reader`` and rejects trailing
bytes; ``Struct.encode`` writes them back, so ``encode(decode(b)) == b`` holds for every
valid ``b``. Fields without a wire form are not on the wire (see ``Opaque`` for the flag
field that records whether an optional trailing block was present).

Decoding applies the RFC's length bounds and raises ``DecodeError`` (a ``TLSError``)
for anything malformed. Encoding writes anything the wire format can frame, including
vectors outside the RFC's bounds (tests and mutators need malformed-but-framable
messages); only what cannot be framed at all (a value too wide for its integer or
length prefix, a fixed-size field of the wrong size) raises ``InternalError``.
"""

from __future__ import annotations

import dataclasses
import struct
import typing
from collections.abc import Callable
from enum import IntEnum
from typing import Annotated, Any, Self

from engine.errors import DecodeError, InternalError, TLSError
from engine.wire.reader import Reader

__all__ = [
    "U8",
    "U16",
    "U24",
    "U32",
    "Fixed",
    "Form",
    "Nested",
    "Opaque",
    "OpenIntEnum",
    "Rest",
    "Struct",
    "Uint",
    "Uint8",
    "Uint16",
    "Uint24",
    "Uint32",
    "Vector",
    "WireField",
    "wire_fields",
    "write_length_prefix",
]


class OpenIntEnum(IntEnum):
    """An ``IntEnum`` that names unknown code points instead of raising.

    Enums name values for traces; parsed fields stay plain ``int``, so an unknown
    code point round-trips unchanged.

    >>> class Colour(OpenIntEnum):
    ...     RED = 1
    >>> Colour(7).name
    'UNKNOWN_0x0007'
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        member = int.__new__(cls, value)
        member._name_ = f"UNKNOWN_{value:#06x}"
        member._value_ = value
        return member


class Form:
    """How one field is laid out on the wire: ``read`` parses it, ``write`` appends it."""

    __slots__ = ()

    def read(self, reader: Reader) -> Any:
        """The field's value, read from ``reader``."""
        raise NotImplementedError

    def write(self, value: Any, out: bytearray) -> None:
        """Append the wire form of ``value`` to ``out``."""
        raise NotImplementedError


def write_length_prefix(length: int, length_size: int, out: bytearray) -> None:
    """Append ``length`` as a ``length_size``-byte prefix; ``InternalError`` if it does not fit."""
    if length >= 1 << (8 * length_size):
        raise InternalError(f"{length} bytes do not fit a {length_size}-byte length prefix")
    out += length.to_bytes(length_size, "big")


class Uint(Form):
    """A big-endian unsigned integer of ``size`` bytes."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def read(self, reader: Reader) -> int:
        """The big-endian integer of ``size`` bytes."""
        return reader.uint(self.size)

    def write(self, value: int, out: bytearray) -> None:
        """Append ``value`` in ``size`` bytes (InternalError if it does not fit)."""
        if not 0 <= value < 1 << (8 * self.size):
            raise InternalError(f"{value} does not fit {self.size} bytes")
        out += value.to_bytes(self.size, "big")

    def __repr__(self) -> str:
        return f"U{8 * self.size}"


U8 = Uint(1)
U16 = Uint(2)
U24 = Uint(3)
U32 = Uint(4)
# struct's codes for the unsigned sizes it has (none for 3 bytes): lists of numbers are packed at once.
_STRUCT_CODES = {1: "B", 2: "H", 4: "I"}

Uint8 = Annotated[int, U8]
Uint16 = Annotated[int, U16]
Uint24 = Annotated[int, U24]
Uint32 = Annotated[int, U32]


class Fixed(Form):
    """Exactly ``size`` opaque bytes, no length prefix (``opaque Random[32]``)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def read(self, reader: Reader) -> bytes:
        """Exactly ``size`` bytes."""
        return bytes(reader.bytes(self.size))

    def write(self, value: bytes, out: bytearray) -> None:
        """Append ``value``, which must be exactly ``size`` bytes."""
        if len(value) != self.size:
            raise InternalError(f"fixed field of {self.size} bytes given {len(value)}")
        out += value

    def __repr__(self) -> str:
        return f"Fixed({self.size})"


class _Prefixed(Form):
    """A length-prefixed field: ``length_size`` bytes of length, bounds in bytes as in the RFC."""

    __slots__ = ("absent_flag", "length_size", "maximum", "minimum")
    absent_value: Any = b""

    def __init__(
        self, length_size: int, minimum: int = 0, maximum: int | None = None, *, absent_flag: str | None = None
    ) -> None:
        self.length_size = length_size
        self.minimum = minimum
        self.maximum = (1 << (8 * length_size)) - 1 if maximum is None else maximum
        self.absent_flag = absent_flag

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.length_size}, {self.minimum}, {self.maximum})"


class Opaque(_Prefixed):
    """``opaque name<minimum..maximum>``: bytes behind a ``length_size``-byte length.

    ``maximum`` defaults to what the prefix can express. With ``absent_flag`` set, the
    field may be missing altogether at the very end of a message (the ClientHello and
    ServerHello extensions blocks): it then decodes as empty and the bool field named
    ``absent_flag`` as False; encoding leaves it out again.
    """

    __slots__ = ()

    def read(self, reader: Reader) -> bytes:
        """The bytes after a length prefix, within the declared bounds."""
        return bytes(reader.vector(self.length_size, self.minimum, self.maximum))

    def write(self, value: bytes, out: bytearray) -> None:
        """Append ``value`` behind its length prefix."""
        write_length_prefix(len(value), self.length_size, out)
        out += value


class Vector(_Prefixed):
    """``Element name<minimum..maximum>``: a tuple of ``element``, bounds in bytes as in the RFC.

    A length that does not split into whole elements (an odd ``cipher_suites`` length)
    leaves a short read at the end, which raises ``DecodeError``. ``absent_flag`` as
    for ``Opaque``.
    """

    __slots__ = ("element",)
    absent_value: Any = ()

    def __init__(
        self,
        element: Form,
        length_size: int,
        minimum: int = 0,
        maximum: int | None = None,
        *,
        absent_flag: str | None = None,
    ) -> None:
        super().__init__(length_size, minimum, maximum, absent_flag=absent_flag)
        self.element = element

    def read(self, reader: Reader) -> tuple[Any, ...]:
        """The elements inside a length-prefixed block, each read by the element codec."""
        size = self.element.size if isinstance(self.element, Uint) else 0
        code = _STRUCT_CODES.get(size)
        if code is not None:  # numbers: unpacked at once, with the error the last short read would give
            data = reader.vector(self.length_size, self.minimum, self.maximum)
            if len(data) % size:
                raise DecodeError(f"need {size} bytes, {len(data) % size} left")
            return struct.unpack(f">{len(data) // size}{code}", data)
        body = reader.sub_reader(self.length_size, self.minimum, self.maximum)
        read_element = self.element.read
        items = []
        while body.remaining:
            items.append(read_element(body))
        return tuple(items)

    def write(self, value: tuple[Any, ...], out: bytearray) -> None:
        """Append the elements behind the block's length prefix."""
        element = self.element
        size = element.size if isinstance(element, Uint) else 0
        code = _STRUCT_CODES.get(size)
        if code is not None:
            # Lists of numbers (suites, groups, schemes, versions): packed at once, not a call per number.
            try:
                body: bytes | bytearray = struct.pack(f">{len(value)}{code}", *value)
            except struct.error:
                raise InternalError(f"a value of {value} does not fit {size} bytes") from None
        else:
            body = bytearray()
            for item in value:
                element.write(item, body)
        write_length_prefix(len(body), self.length_size, out)
        out += body

    def __repr__(self) -> str:
        return f"Vector({self.element!r}, {self.length_size}, {self.minimum}, {self.maximum})"


class Nested(Form):
    """A ``Struct`` inline, with no length of its own."""

    __slots__ = ("struct",)

    def __init__(self, struct: type[Struct]) -> None:
        self.struct = struct

    def read(self, reader: Reader) -> Struct:
        """The inner value, read from the bytes of a length-prefixed block (all of them)."""
        return self.struct.read(reader)

    def write(self, value: Struct, out: bytearray) -> None:
        """Append the inner value behind its block's length prefix."""
        value.write(out)

    def __repr__(self) -> str:
        return f"Nested({self.struct.__name__})"


class Rest(Form):
    """Every byte left in the message (``Finished.verify_data``: its size comes from the hash)."""

    __slots__ = ()

    def read(self, reader: Reader) -> bytes:
        """Everything left in the reader."""
        return bytes(reader.rest())

    def write(self, value: bytes, out: bytearray) -> None:
        """Append ``value`` as it is."""
        out += value

    def __repr__(self) -> str:
        return "Rest()"


@dataclasses.dataclass(frozen=True, slots=True)
class WireField:
    """One field of a ``Struct`` that is on the wire: its name, its form, and its absence flag if any."""

    name: str
    form: Form
    absent_flag: str | None = None
    absent_value: Any = None


_PLANS: dict[type, tuple[WireField, ...]] = {}


def wire_fields(cls: type[Struct]) -> tuple[WireField, ...]:
    """The wire fields of ``cls`` in wire order (computed once per class, then cached)."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        found = []
        for field in dataclasses.fields(typing.cast(Any, cls)):
            forms = [meta for meta in getattr(hints[field.name], "__metadata__", ()) if isinstance(meta, Form)]
            if not forms:
                continue
            form = forms[0]
            if isinstance(form, _Prefixed) and form.absent_flag is not None:
                found.append(WireField(field.name, form, form.absent_flag, form.absent_value))
            else:
                found.append(WireField(field.name, form))
        plan = _PLANS[cls] = tuple(found)
    return plan


class Struct:
    """Base of every wire structure: a frozen dataclass whose fields carry their ``Form``."""

    __slots__ = ()

    @classmethod
    def read(cls, reader: Reader) -> Self:
        """Read one structure from ``reader``, leaving what follows it."""
        values: dict[str, Any] = {}
        for name, read, absent_flag, absent_value in _readers(cls):
            try:
                if absent_flag is not None and not reader.remaining:
                    values[absent_flag] = False
                    values[name] = absent_value
                    continue
                values[name] = read(reader)
            except TLSError as error:
                error.add_note(f"in {cls.__name__}.{name}")
                raise
        return cls(**values)

    @classmethod
    def decode(cls, data: bytes | memoryview) -> Self:
        """Decode ``data``, which must hold exactly one structure (no trailing bytes)."""
        reader = Reader(data)
        result = cls.read(reader)
        if reader.remaining:
            raise DecodeError(f"{reader.remaining} trailing bytes after {cls.__name__}")
        return result

    def write(self, out: bytearray) -> None:
        """Append the wire form to ``out``."""
        for name, write, absent_flag in _writers(type(self)):
            value = getattr(self, name)
            if absent_flag is not None and not getattr(self, absent_flag):
                if value:
                    raise InternalError(f"{type(self).__name__}.{name} is marked absent but not empty")
                continue
            write(value, out)

    def encode(self) -> bytes:
        """The wire form."""
        out = bytearray()
        self.write(out)
        return bytes(out)


# What Struct.read and Struct.write loop over, per class: the plan's fields with their forms' bound
# methods, looked up once rather than for every field of every message.
_Reading = tuple[str, Callable[[Reader], Any], str | None, Any]
_Writing = tuple[str, Callable[[Any, bytearray], None], str | None]
_READERS: dict[type, tuple[_Reading, ...]] = {}
_WRITERS: dict[type, tuple[_Writing, ...]] = {}


def _readers(cls: type[Struct]) -> tuple[_Reading, ...]:
    readers = _READERS.get(cls)
    if readers is None:
        plan = wire_fields(cls)
        readers = _READERS[cls] = tuple((f.name, f.form.read, f.absent_flag, f.absent_value) for f in plan)
    return readers


def _writers(cls: type[Struct]) -> tuple[_Writing, ...]:
    writers = _WRITERS.get(cls)
    if writers is None:
        writers = _WRITERS[cls] = tuple((f.name, f.form.write, f.absent_flag) for f in wire_fields(cls))
    return writers
