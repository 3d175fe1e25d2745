"""Minimising a ``record_diff`` input as records and edits (``tlsdiff.record_input``).

Fewer records and edits (ddmin over each list), then each record's content shortened and its
padding, type and the delivery made plainer, each step kept only if the signature survives.
"""

from __future__ import annotations

from dataclasses import replace

from tlsdiff.ddmin import Oracle, ddmin, smaller_values
from tlsdiff.mutate import PlainRecord
from tlsdiff.record_input import RecordInput

__all__ = ["minimize_records"]


class _State:
    def __init__(self, value: RecordInput, oracle: Oracle) -> None:
        self.value = value
        self.oracle = oracle

    def keeps(self, candidate: RecordInput) -> bool:
        if candidate == self.value or not self.oracle.keeps(candidate.encode()):
            return False
        self.value = candidate
        return True


def minimize_records(data: bytes, oracle: Oracle) -> bytes:
    """The input with fewer records and edits, shorter contents and plainer choices."""
    state = _State(RecordInput.decode(data), oracle)
    if not oracle.keeps(state.value.encode()):
        return data
    state.keeps(replace(state.value, eof=False))
    state.keeps(replace(state.value, answer=False))
    state.keeps(replace(state.value, chunk=0))
    state.keeps(replace(state.value, suite=0))
    ddmin(state.value.records, lambda kept: state.keeps(replace(state.value, records=kept)), oracle)
    ddmin(state.value.edits, lambda kept: state.keeps(replace(state.value, edits=kept)), oracle)
    for index in range(len(state.value.records)):
        _simplify_record(state, index)
    return state.value.encode()


def _with_record(value: RecordInput, index: int, record: PlainRecord) -> RecordInput:
    return replace(value, records=(*value.records[:index], record, *value.records[index + 1 :]))


def _simplify_record(state: _State, index: int) -> None:
    def record() -> PlainRecord:
        return state.value.records[index]

    def keeps_content(kept: tuple[int, ...]) -> bool:
        return state.keeps(_with_record(state.value, index, replace(record(), content=bytes(kept))))

    ddmin(record().content, keeps_content, state.oracle)
    for padding in smaller_values(record().padding):
        if state.keeps(_with_record(state.value, index, replace(record(), padding=padding))):
            break
