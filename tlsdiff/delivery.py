"""How a lockstep run's bytes and events reach the targets: pieces, payloads, and the budget of one run.

A fuzzer input can ask for a dozen 32 KiB transfers in 1-byte pieces; these bounds keep
every run short (libFuzzer's timeout is no finding), and the delivery of a flight in
pieces is one step whatever the pieces are.
"""

from __future__ import annotations

from dataclasses import replace

from tlsdiff.fuzz_scenario import Action, Event
from tlsdiff.harness import Endpoint, Outcome

__all__ = ["DATA_BUDGET", "MAX_DATA", "MAX_EVENTS", "deliver", "merge", "payload", "within_budget"]

MAX_DATA = 1 << 15  # an event's data size is taken modulo this, to keep one run short
MAX_EVENTS = 16
DATA_BUDGET = 1 << 18  # bytes (and pieces: _PIECE_COST each) one run's events may move
_PIECE_COST = 256
_MAX_PIECES = 64
_DATA_ACTIONS = frozenset({Action.PEER_DATA, Action.TARGET_DATA, Action.PEER_KEY_UPDATE, Action.TARGET_KEY_UPDATE})


def _bounded(event: Event) -> Event:
    """The event with its data cut to at most ``_MAX_PIECES`` pieces (the cost of a run is per record)."""
    if event.action in _DATA_ACTIONS and event.chunk:
        return replace(event, size=min(event.size % MAX_DATA, event.chunk * _MAX_PIECES))
    return event


def _cost(event: Event) -> int:
    size = event.size % MAX_DATA if event.action in _DATA_ACTIONS else 0
    pieces = -(-size // event.chunk) if event.chunk else 1
    return size + pieces * _PIECE_COST


def within_budget(events: tuple[Event, ...]) -> tuple[Event, ...]:
    """The events a run does: at most ``MAX_EVENTS``, each cut to ``_MAX_PIECES`` pieces, none past ``DATA_BUDGET``."""
    kept: list[Event] = []
    spent = 0
    for event in map(_bounded, events[:MAX_EVENTS]):
        spent += _cost(event)
        if spent > DATA_BUDGET:
            break
        kept.append(event)
    return tuple(kept)


def payload(size: int) -> bytes:
    """``size`` (modulo ``MAX_DATA``) bytes of a fixed, recognisable pattern."""
    size %= MAX_DATA
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def merge(first: Outcome, second: Outcome) -> Outcome:
    """Two verbs in a row seen as one step: outputs and data joined, the later status."""
    return replace(second, output=first.output + second.output, data=first.data + second.data)


def _pieces(data: bytes, chunk: int) -> list[bytes]:
    """``data`` cut into ``chunk``-byte pieces: the first ``_MAX_PIECES`` of them, then the rest whole.

    The first pieces carry what fragmentation tests (record and message headers split
    anywhere); a 16 KiB flight in 1-byte pieces would cost thousands of deliveries.
    """
    if not chunk or not data:
        return [data]
    head = [data[start : start + chunk] for start in range(0, min(len(data), chunk * _MAX_PIECES), chunk)]
    rest = data[chunk * _MAX_PIECES :]
    return [*head, rest] if rest else head


def deliver(target: Endpoint, data: bytes, chunk: int, *, eof: bool = False) -> Outcome:
    """``data`` to ``target`` in ``chunk``-byte pieces (0: whole; see ``_pieces``), one after the other,
    seen as one step (as ``merge`` would, joined once at the end)."""
    return target.deliver_pieces(_pieces(data, chunk), eof=eof)
