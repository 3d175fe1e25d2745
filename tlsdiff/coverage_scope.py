"""What atheris instruments in a fuzz target's process (``fuzz_targets/*.py``), in one place.

The engine is instrumented: its branches are the coverage libFuzzer steers by. The harness
is not (its branches would reward the fuzzer for exercising the harness). Nor is the
engine's bounded reader: its only branches are its bounds checks, whose failures are
covered where the callers handle them, and it is the hottest code of every parse (the
mutators' field trees read through it too), so instrumenting it costs more than it tells.

This module imports nothing: a target script reads it before it imports what it instruments.
"""

__all__ = ["INSTRUMENTED", "NOT_INSTRUMENTED"]

INSTRUMENTED = ["engine"]
NOT_INSTRUMENTED = ["engine.wire.reader"]
