"""Typed access to the RFC 8448 trace steps committed under ``tests/data/rfc8448``.

The JSON files are written by ``ci/extract_rfc8448.py``; each is the ordered list of one
section's ``{client}``/``{server}`` steps with their labelled values as hex.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from engine.randomness import DrawKind

DATA_DIR = Path(__file__).resolve().parent / "data" / "rfc8448"
SECTIONS: tuple[int, ...] = (3, 5, 7)

Side = Literal["client", "server"]


@dataclass(frozen=True)
class Step:
    """One ``{side}  action`` paragraph of the trace and the values printed under it."""

    side: Side
    action: str
    values: dict[str, bytes]


def _step_from_json(item: object, where: str) -> Step:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: a step must be an object, got {type(item).__name__}")
    side, action, values = item.get("side"), item.get("action"), item.get("values")
    if side not in ("client", "server"):
        raise ValueError(f"{where}: bad side {side!r}")
    if not isinstance(action, str) or not action:
        raise ValueError(f"{where}: bad action {action!r}")
    if not isinstance(values, dict):
        raise ValueError(f"{where}: values must be an object")
    decoded: dict[str, bytes] = {}
    for label, text in values.items():
        if not isinstance(label, str) or not isinstance(text, str):
            raise ValueError(f"{where}: value {label!r} must be a hex string")
        decoded[label] = bytes.fromhex(text)
    return Step(side=cast(Side, side), action=action, values=decoded)


def load_section(number: int) -> list[Step]:
    """The steps of RFC 8448 section ``number`` (3, 5 or 7), in the RFC's order."""
    if number not in SECTIONS:
        raise ValueError(f"RFC 8448 section {number} is not extracted; have {SECTIONS}")
    path = DATA_DIR / f"section{number}.json"
    items: object = json.loads(path.read_text(encoding="ascii"))
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a list of steps")
    return [_step_from_json(item, f"{path.name}[{index}]") for index, item in enumerate(items)]


def find(steps: list[Step], side: Side, action_prefix: str, nth: int = 0) -> Step:
    """The ``nth`` (0-based) step of ``side`` whose action starts with ``action_prefix``."""
    matches = [step for step in steps if step.side == side and step.action.startswith(action_prefix)]
    if not -len(matches) <= nth < len(matches):
        raise LookupError(f"no {side} step #{nth} starting {action_prefix!r} ({len(matches)} found)")
    return matches[nth]


class ScriptedRandom:
    """Hands out the trace's bytes, in order, as the engine draws."""

    def __init__(self, *chunks: bytes) -> None:
        self._data = b"".join(chunks)

    def draw(self, size: int, kind: DrawKind = DrawKind.BYTES) -> bytes:
        if size > len(self._data):
            raise AssertionError(f"the engine drew {size} bytes; the trace has {len(self._data)} left")
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk

    @property
    def left(self) -> int:
        return len(self._data)
