"""Frozen object graphs: taken once, thawed into an independent copy many times, faster than ``copy.deepcopy``.

The lockstep driver keeps the engine side of a run (the engine target, the peer and its
mutation state) at a snapshot point and restores it for every input that shares that
point. ``copy.deepcopy`` of those graphs costs more than the rest of a short run; a
pickle of the graph, made once, loads in C.

A thawed copy means what ``copy.deepcopy`` would have made:

- an object whose class defines ``__deepcopy__`` (the engine's config, record protection,
  seeded random source and transcript; enums) is not pickled: on thaw it goes through
  its own ``__deepcopy__`` (one memo per thaw, so an object reached twice is copied once);
- classes, functions and cryptography's objects (keys, certificates, AEADs; immutable,
  and some cannot be pickled) are shared, as ``copy.deepcopy`` shares functions and classes;
- everything else is rebuilt from the pickle: new objects, equal to the originals.

    frozen = Frozen.of(graph)
    copy_1, copy_2 = frozen.thaw(), frozen.thaw()    # independent of graph and of each other
"""

from __future__ import annotations

import copy
import io
import pickle
import types
from enum import Enum
from typing import Generic, TypeVar

__all__ = ["Frozen"]

_T = TypeVar("_T")

_SHARED_TYPES = (type, types.FunctionType, types.BuiltinFunctionType, Enum)
_SHARED_MODULES = ("cryptography.", "_hashlib")


def _kept_aside(value: object) -> bool:
    """Whether ``value`` stays out of the pickle (shared, or copied by its own ``__deepcopy__``)."""
    # Asked of every object pickled; the answer depends on the type alone, so it is kept per type.
    kind = type(value)
    kept = _KEPT_ASIDE.get(kind)
    if kept is None:
        kept = _KEPT_ASIDE[kind] = _is_shared(value) or hasattr(kind, "__deepcopy__")
    return kept


_KEPT_ASIDE: dict[type, bool] = {}


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, kept: list[object]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._kept = kept
        self._index: dict[int, int] = {}

    def persistent_id(self, obj: object) -> int | None:
        if not _kept_aside(obj):
            return None
        index = self._index.get(id(obj))
        if index is None:
            index = self._index[id(obj)] = len(self._kept)
            self._kept.append(obj)
        return index


class Frozen(Generic[_T]):
    """An object graph as it was when frozen; every ``thaw`` returns a new, independent copy of it."""

    def __init__(self, data: bytes, kept: list[object]) -> None:
        self._data = data
        self._kept = kept
        self._shared = [_is_shared(value) for value in kept]

    @classmethod
    def of(cls, graph: _T) -> Frozen[_T]:
        """Freeze ``graph`` as it is now (later changes to it do not reach the frozen copy)."""
        kept: list[object] = []
        buffer = io.BytesIO()
        _Pickler(buffer, kept).dump(graph)
        # The kept objects' own state is taken now too: a later change to an original must not show.
        return cls(buffer.getvalue(), [_frozen_copy(value) for value in kept])

    def thaw(self) -> _T:
        """A new copy of the graph."""
        # Each kept object is resolved by a list lookup in C: the pickle refers to kept objects
        # dozens of times (every enum member), and a Python persistent_load per reference cost more
        # than the rest of the load. Every kept object is referred to, so copying them all up front
        # copies nothing the graph does not hold; one memo keeps an object reached twice copied once.
        memo: dict[int, object] = {}
        kept = [
            value if shared else copy.deepcopy(value, memo)
            for value, shared in zip(self._kept, self._shared, strict=True)
        ]
        unpickler = pickle.Unpickler(io.BytesIO(self._data))  # noqa: S301 (our own pickle, made by ``of`` in this process)
        # The C unpickler takes persistent_load as an instance attribute (a subclass's method is a Python call).
        unpickler.persistent_load = kept.__getitem__  # type: ignore[method-assign]
        graph: _T = unpickler.load()
        return graph


def _is_shared(value: object) -> bool:
    return isinstance(value, _SHARED_TYPES) or type(value).__module__.startswith(_SHARED_MODULES)


def _frozen_copy(value: object) -> object:
    return value if _is_shared(value) else copy.deepcopy(value)
