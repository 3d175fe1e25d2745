"""The minimiser of findings (tlsdiff.minimize): the signature survives, padded inputs shrink, runs are bounded."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from engine.policies import TLS13_POLICY_NAMES
from engine.wire.handshake import ClientHello
from s2n_bridge.client_hello import ParsedClientHello
from tlsdiff import target_hello
from tlsdiff.ddmin import Oracle, ddmin
from tlsdiff.fieldtree import Kind, Node, encode, find, parse_message, preorder, splice, with_children
from tlsdiff.findings import Finding
from tlsdiff.fuzz_scenario import Action, Event, Mutation, Scenario, Stage
from tlsdiff.minimize import minimize, minimize_counted
from tlsdiff.minimize_scenario import compact, minimize_scenario
from tlsdiff.scenario import run_pair
from tlsdiff.target_hello import handshake_message
from tlsdiff.targets import TARGETS, LockstepTarget

# The findings come from lockstep runs, which model the OpenSSL build's draws: one CI pass.
pytestmark = pytest.mark.openssl_engine

_REGRESSION = Path(__file__).resolve().parents[2] / "corpus" / "regression"
# Cheap pinned divergences (each reproduces in a few milliseconds).
_PINNED = [
    ("server_diff", "unsupported-tlsv1-2"),
    ("server_diff", "s2n-reflects-partial-handshake-bytes-hrr"),
    ("client_diff", "s2n-reflects-partial-handshake-bytes-as-ccs"),
]
_TRUNCATED_EVENT = b"\x0b\x12"  # a target_close event cut short (the server and client lanes drop events)


def _pinned(target: str, name: str) -> tuple[bytes, str]:
    data = (_REGRESSION / target / f"{name}.bin").read_bytes()
    signature = json.loads((_REGRESSION / target / f"{name}.json").read_text())["signature"]
    assert isinstance(signature, str)
    return data, signature


def _padded(data: bytes) -> bytes:
    """``data`` with mutations of flights these handshakes never reach, events and trailing junk."""
    scenario = Scenario.decode(data)
    before = Mutation(Stage.WIRE, flight=9, target=3, op=7, node=500, value=999, data=b"junk" * 5)
    after = Mutation(Stage.RECORDS, flight=10, op=4, value=77, data=b"\xff" * 8)
    events = (Event(Action.PEER_DATA, 4000, 7), Event(Action.PEER_KEY_UPDATE, 3, 1))
    padded = dataclasses.replace(scenario, mutations=(before, *scenario.mutations, after), events=events)
    return padded.encode() + _TRUNCATED_EVENT


def _signature(target: str, data: bytes) -> str | None:
    finding = TARGETS[target].check(data)
    return None if finding is None else finding.signature


@pytest.mark.parametrize(("target", "name"), _PINNED)
def test_padded_regression_input_shrinks_and_keeps_its_signature(target: str, name: str) -> None:
    data, signature = _pinned(target, name)
    padded = _padded(data)
    assert _signature(target, padded) == signature  # the padding is irrelevant to the divergence
    result = minimize(target, padded, signature)
    assert _signature(target, result) == signature
    assert len(result) < len(padded)
    assert len(result) <= len(data)
    scenario = Scenario.decode(result)
    assert compact(scenario) == result  # canonical: the trailing junk is gone
    assert scenario.events == ()  # these lanes ignore events
    assert len(scenario.mutations) <= len(Scenario.decode(data).mutations)


def test_minimising_is_deterministic() -> None:
    data, signature = _pinned("server_diff", "s2n-reflects-partial-handshake-bytes-hrr")
    padded = _padded(data)
    assert minimize("server_diff", padded, signature) == minimize("server_diff", padded, signature)


@dataclasses.dataclass(frozen=True)
class _CountedTarget(LockstepTarget):
    """A lockstep target that keeps every input it is asked to check."""

    runs: list[bytes] = dataclasses.field(default_factory=list)

    def check(self, data: bytes) -> Finding | None:
        self.runs.append(data)
        return super().check(data)


def test_target_runs_are_bounded_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    data, signature = _pinned("server_diff", "unsupported-tlsv1-2")
    padded = _padded(data)
    original = TARGETS["server_diff"]
    assert isinstance(original, LockstepTarget)
    counted = _CountedTarget(**{field.name: getattr(original, field.name) for field in dataclasses.fields(original)})
    monkeypatch.setitem(TARGETS, "server_diff", counted)
    result = minimize_counted("server_diff", padded, signature, max_checks=12)
    assert len(counted.runs) == result.checks <= 12
    assert len(set(counted.runs)) == len(counted.runs)  # an input met twice is answered from memory
    assert len(result.data) <= len(padded)
    assert _signature("server_diff", result.data) == signature


def test_an_input_without_the_signature_is_refused() -> None:
    data, signature = _pinned("server_diff", "unsupported-tlsv1-2")
    with pytest.raises(ValueError, match="not 'verdict/elsewhere'"):
        minimize("server_diff", data, "verdict/elsewhere")
    assert _signature("server_diff", b"") is None
    with pytest.raises(ValueError, match="no finding"):
        minimize("server_diff", b"", signature)
    with pytest.raises(ValueError, match="unknown target"):
        minimize("no_such_target", data, signature)
    with pytest.raises(ValueError, match="max_checks"):
        minimize("server_diff", data, signature, max_checks=0)


def test_compact_is_the_shortest_canonical_form() -> None:
    rng = random.Random(8)
    for _ in range(500):
        data = rng.randbytes(rng.randrange(40))
        scenario = Scenario.decode(data)
        shortest = compact(scenario)
        assert Scenario.decode(shortest) == scenario
        assert len(shortest) <= min(len(data), len(scenario.encode()))
        assert compact(Scenario.decode(shortest)) == shortest
        assert not shortest or Scenario.decode(shortest[:-1]) != scenario
    closing = Scenario(events=(Event(Action.PEER_DATA),))
    assert len(compact(closing)) < len(closing.encode())  # the event's zero size and chunk go


def test_compact_puts_last_the_item_that_ends_in_zeros() -> None:
    # decode keeps mutations and events apart, so an event may come before a mutation whose zero operands then go.
    scenario = Scenario(mutations=(Mutation(Stage.RECORDS, flight=3),), events=(Event(Action.PEER_CLOSE, 7, 1),))
    shortest = compact(scenario)
    assert Scenario.decode(shortest) == scenario
    assert len(shortest) < len(scenario.encode())


def _no_finding(data: bytes) -> Finding | None:
    return None


def test_ddmin_keeps_what_the_predicate_needs_within_its_budget() -> None:
    unbounded = Oracle(_no_finding, "", 1000)
    assert ddmin(range(40), lambda kept: {5, 17, 30} <= set(kept), unbounded) == (5, 17, 30)
    assert ddmin(range(40), lambda kept: True, unbounded) == ()
    spent = Oracle(_no_finding, "", 2)
    assert spent.signature_of(b"a") is None and spent.signature_of(b"b") is None
    assert spent.exhausted
    assert not spent.keeps(b"c")  # never run: refused
    assert spent.checks == 2


def _planted_scenario_check(data: bytes) -> Finding | None:
    """A stand-in target: a finding when a RECORDS mutation has op 3 modulo 4 and the peer asks for a KeyUpdate."""
    scenario = Scenario.decode(data)
    mutation = any(m.stage is Stage.RECORDS and m.op % 4 == 3 for m in scenario.mutations)
    event = any(e.action is Action.PEER_KEY_UPDATE and e.size % 2 == 1 for e in scenario.events)
    return Finding("planted", "planted", "Planted", {}) if mutation and event else None


def test_scenario_passes_reach_the_simplest_scenario() -> None:
    noise = Mutation(Stage.WIRE, flight=4, target=9, op=200, node=77, value=3000, data=b"noise")
    needed = Mutation(Stage.RECORDS, flight=6, target=2, op=7, node=1234, value=4321, data=b"data" * 10)
    events = (Event(Action.PEER_DATA, 4000, 7), Event(Action.PEER_KEY_UPDATE, 2001, 3), Event(Action.TARGET_DATA, 9))
    scenario = Scenario(policy="20190801", cert_type="rsa-2048", seed=123456, chunk=5, trust="leaf",
                        peer_policy="default_pq", mutations=(noise, needed, noise), events=events)  # fmt: skip
    oracle = Oracle(_planted_scenario_check, "planted", 1000)
    result = minimize_scenario(scenario.encode() + b"\x01", oracle)
    expected = Scenario(policy=TLS13_POLICY_NAMES[0], mutations=(Mutation(Stage.RECORDS, op=3),),
                        events=(Event(Action.PEER_KEY_UPDATE, 1),))  # fmt: skip
    assert Scenario.decode(result) == expected
    assert result == compact(expected)
    assert oracle.checks < 1000


def _client_hello_body() -> bytes:
    record = run_pair("s2n", "s2n", "default_tls13", "ecdsa-p256", 7).records[0].data
    message = record[5:]
    return message[4 : 4 + int.from_bytes(message[1:4], "big")]


def _with_unknown_extension(body: bytes) -> bytes:
    tree = parse_message(handshake_message(body))
    nodes = preorder(tree)
    index = next(i for i, node in enumerate(nodes) if node.name == "ClientHello.extensions")
    fields = (Node("type", Kind.UINT, 2, 0x1234), Node("data", Kind.OPAQUE, 2, 16, bytes(16)))
    extra = Node("extension", Kind.STRUCT, children=fields)
    return encode(splice(tree, index, (with_children(nodes[index], (*nodes[index].children, extra)),)))[4:]


def test_client_hello_minimised_through_its_field_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    # No client_hello_parse divergence is pinned (both the fuzzer found were fixed): plant one, as
    # test_target_hello does, where the engine loses supported_groups.
    real_view = target_hello.engine_view

    def planted(body: bytes, hello: ClientHello) -> ParsedClientHello:
        return dataclasses.replace(real_view(body, hello), supported_groups=None)

    monkeypatch.setattr(target_hello, "engine_view", planted)
    original = _client_hello_body()
    padded = _with_unknown_extension(original) + b"\x01\x02\x03"  # bytes after the extensions: s2n ignores them
    signature = "bytes/server/parse/ClientHello/supported_groups"
    assert _signature("client_hello_parse", padded) == signature
    result = minimize("client_hello_parse", padded, signature)
    assert _signature("client_hello_parse", result) == signature
    assert len(result) < len(original) < len(padded)
    extensions = find(parse_message(handshake_message(result)), "ClientHello.extensions")
    assert extensions is not None
    assert [encode(extension)[:2] for extension in extensions.children] == [b"\x00\x0a"]
