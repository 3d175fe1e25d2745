"""The atheris custom mutator over scenarios: structure-aware, with libFuzzer's own mutations kept live.

libFuzzer calls only the custom mutator once one is given, so this one also calls
``atheris.Mutate`` (on the whole input, or on one mutation's data) so the built-in
mutations and the ``-dict`` tokens keep working. Its randomness comes from libFuzzer's
``seed``; it never raises (an exception here aborts the fuzzer) and never returns more
than ``max_size`` bytes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from tlsdiff.fuzz_scenario import Action, Event, Mutation, Scenario, Stage

__all__ = ["ByteMutate", "ScenarioMutator", "byte_mutate", "mutate_or_bytes"]

ByteMutate = Callable[[bytes, int], bytes]
Shape = Callable[[Scenario], Scenario]
_MAX_ITEMS = 12


def byte_mutate(data: bytes, max_size: int) -> bytes:
    """libFuzzer's byte-level mutation (``atheris.Mutate``), imported late so the harness works without it."""
    import atheris  # noqa: PLC0415

    mutated: bytes = atheris.Mutate(data, max_size)
    return mutated


def mutate_or_bytes(
    data: bytes, max_size: int, seed: int, structural: Callable[[random.Random], bytes], byte_mutate: ByteMutate
) -> bytes:
    """One custom-mutator step: libFuzzer's byte mutation one time in four, else ``structural(rng)``;
    never raises (an exception here would abort libFuzzer: it falls back to bytes), never over ``max_size``."""
    rng = random.Random(seed)  # noqa: S311  (fuzzing choices, not secrets)
    try:
        mutated = byte_mutate(data, max_size) if rng.random() < 0.25 else structural(rng)
    except Exception:  # (see above)
        mutated = byte_mutate(data, max_size)
    return mutated[:max_size]


def _random_mutation(rng: random.Random, stages: tuple[Stage, ...], flights: int) -> Mutation:
    data = rng.randbytes(rng.choice((0, 1, 2, 4, 8, 32)))
    value = rng.choice((0, 1, 0xFF, 0xFFFF, rng.randrange(1 << 16)))
    return Mutation(rng.choice(stages), rng.randrange(flights), rng.randrange(8), rng.randrange(256),
                    rng.randrange(1 << 10), value, data)  # fmt: skip


def _random_event(rng: random.Random) -> Event:
    size = rng.choice((0, 1, 100, 8087, 16384, 16385, rng.randrange(1 << 16)))
    return Event(rng.choice(tuple(Action)), size, rng.choice((0, 0, 1, 5, 200)))


class ScenarioMutator:
    """Mutates the scenarios a target accepts (its ``shape`` keeps role and stages in its lane)."""

    def __init__(
        self,
        shape: Shape,
        *,
        stages: tuple[Stage, ...] = tuple(Stage),
        flights: int = 3,
        events: bool = False,
        byte_mutate: ByteMutate = byte_mutate,
    ) -> None:
        self._shape = shape
        self._stages = stages
        self._flights = flights
        self._events = events
        self._byte_mutate = byte_mutate

    def __call__(self, data: bytes, max_size: int, seed: int) -> bytes:
        def structural(rng: random.Random) -> bytes:
            return self._shape(self._structural(self._shape(Scenario.decode(data)), rng, max_size)).encode()

        return mutate_or_bytes(data, max_size, seed, structural, self._byte_mutate)

    def _structural(self, scenario: Scenario, rng: random.Random, max_size: int) -> Scenario:
        choice = rng.randrange(8)
        mutations, events = list(scenario.mutations), list(scenario.events)
        if choice <= 2 and len(mutations) < _MAX_ITEMS:
            mutations.insert(rng.randrange(len(mutations) + 1), _random_mutation(rng, self._stages, self._flights))
        elif choice == 3 and mutations:
            del mutations[rng.randrange(len(mutations))]
        elif choice == 4 and mutations:
            index = rng.randrange(len(mutations))
            old = mutations[index]
            data = self._byte_mutate(old.data, min(255, max_size))[:255]
            mutations[index] = replace(old, data=data, node=rng.randrange(1 << 10), op=rng.randrange(256))
        elif choice == 5 and self._events:
            if events and rng.random() < 0.3:
                del events[rng.randrange(len(events))]
            elif len(events) < _MAX_ITEMS:
                events.insert(rng.randrange(len(events) + 1), _random_event(rng))
        else:
            return self._header(scenario, rng)
        return replace(scenario, mutations=tuple(mutations), events=tuple(events))

    @staticmethod
    def _header(scenario: Scenario, rng: random.Random) -> Scenario:
        header = bytearray(scenario.encode()[:9])
        position = rng.randrange(9)
        header[position] = rng.randrange(256)
        rest = scenario.encode()[9:]
        return Scenario.decode(bytes(header) + rest)
