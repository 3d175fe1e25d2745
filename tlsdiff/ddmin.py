"""Delta debugging: the budgeted question "does this input still give the finding?" and chunk removal.

``Oracle`` runs a target's ``check`` and answers whether the finding's signature
survived; it remembers every answer (a candidate met twice costs one run) and stops
running the target once its budget is spent (then every new candidate is refused, so
a pass simply ends with what it has). ``ddmin`` removes chunks of a sequence, halving
the chunk size down to single elements, keeping each removal the oracle accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tlsdiff.findings import Finding

__all__ = ["Oracle", "ddmin", "smaller_values"]

T = TypeVar("T")

# Moduli the inputs' fields are read by (mutations and events take most operands modulo a small
# number, or in mixed radix): an operand's remainder by one of them often means the same thing.
_MODULI = (2, 3, 4, 5, 6, 8, 16, 64, 256)


class Oracle:
    """Whether an input still gives ``signature``, asked of ``check`` at most ``max_checks`` times in all."""

    def __init__(self, check: Callable[[bytes], Finding | None], signature: str, max_checks: int) -> None:
        self._check = check
        self._signature = signature
        self._answers: dict[bytes, bool] = {}
        self.max_checks = max_checks
        self.limit = max_checks  # a pass may be held below max_checks to leave runs for the passes after it
        self.checks = 0

    @property
    def exhausted(self) -> bool:
        """Whether the runs allowed now are spent."""
        return self.checks >= min(self.limit, self.max_checks)

    def signature_of(self, data: bytes) -> str | None:
        """The signature of ``data``'s finding (None: no finding), from one run that is counted and remembered."""
        self.checks += 1
        finding = self._check(data)
        signature = None if finding is None else finding.signature
        self._answers[data] = signature == self._signature
        return signature

    def keeps(self, data: bytes) -> bool:
        """Whether ``data`` still gives the signature (False once the budget is spent and it was never run)."""
        known = self._answers.get(data)
        if known is not None:
            return known
        if self.exhausted:
            return False
        return self.signature_of(data) == self._signature

    def improves(self, current: bytes, candidate: bytes) -> bool:
        """Whether ``candidate`` is simpler than ``current`` (shorter, or as long and lower) and still kept.

        The order is well founded, so passes built on it always end.
        """
        return (len(candidate), candidate) < (len(current), current) and self.keeps(candidate)


def ddmin(items: Sequence[T], keeps: Callable[[tuple[T, ...]], bool], oracle: Oracle) -> tuple[T, ...]:
    """``items`` with every chunk removed that ``keeps`` allows: all of them, halves, quarters... single ones.

    Ends when a pass over single elements removes nothing, or the oracle's budget is spent.

    >>> oracle = Oracle(lambda data: None, "", 10)
    >>> ddmin(range(10), lambda kept: 3 in kept and 7 in kept, oracle)
    (3, 7)
    """
    current = tuple(items)
    chunk = len(current)
    while current and not oracle.exhausted:
        removed = False
        start = 0
        while start < len(current) and not oracle.exhausted:
            candidate = current[:start] + current[start + chunk :]
            if keeps(candidate):
                current, removed = candidate, True
            else:
                start += chunk
        if chunk == 1 and not removed:
            break
        chunk = max(chunk // 2, 1)
    return current


def smaller_values(value: int) -> list[int]:
    """Simpler values to try for an integer field, smallest first (all below ``value``).

    >>> smaller_values(10)
    [0, 1, 2, 4, 5]
    """
    candidates = {0, 1, value >> 1, *(value % modulus for modulus in _MODULI)}
    return sorted(candidate for candidate in candidates if candidate < value)
