"""The fuzzing scenario: what one lockstep run does, in a compact binary form and a readable JSON form.

Every byte string decodes to a scenario (total decoding: the fuzzer never produces an
input the harness rejects), and both forms are lossless: ``decode(encode(s)) == s`` and
``from_json(to_json(s)) == s``. Many byte strings decode to the same scenario;
``encode`` writes its one canonical form.

Binary layout (missing bytes read as zero; numbers are big-endian)::

    0      flags: bit 0 role under test (0 server, 1 client), bit 1 peer is s2n,
           bit 2 peer runs the RFC's behaviour, bit 3 the peer has its own policy,
           bits 4..7 a client target's trust anchors (modulo TRUST_CHOICES; 0: the issuing CA)
    1      policy index (modulo the TLS 1.3 policies, in tls13_policies.txt order)
    2      certificate index (modulo CERT_TYPES)
    3      peer policy index (read when flag bit 3 is set)
    4..7   seed (u32)
    8      delivery chunk: the peer's flights reach the targets in pieces of this many bytes (0: whole)
    9..    items until the end, each led by a tag byte:
           even tag: a Mutation: stage = (tag >> 1) % 4, flight u8, target u8, op u8, node u16,
                     value u16, data length u8, data
           odd tag:  an Event: action = (tag >> 1) % len(Action), size u16, chunk u8

``encode`` writes mutations before events; both keep their order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from engine.policies import TLS13_POLICY_NAMES
from tlsdiff.certs import CERT_TYPES, TRUST_CHOICES
from tlsdiff.harness import COMPAT_MODES, Role
from tlsdiff.total_reader import TotalReader

__all__ = ["Action", "Event", "Mutation", "Peer", "Scenario", "ScenarioError", "Stage"]

_HEADER_SIZE = 9
_MAX_DATA = 255
_FLAG_CLIENT, _FLAG_S2N_PEER, _FLAG_RFC_PEER, _FLAG_PEER_POLICY = 1, 2, 4, 8
_TRUST_SHIFT = 4


class ScenarioError(ValueError):
    """A JSON scenario names something the harness does not know (the binary form has no errors)."""


class Peer(StrEnum):
    """Who plays the other side: an engine actor (mutations reach inside it) or C s2n-tls."""

    ENGINE = "engine"
    S2N = "s2n"


class Stage(IntEnum):
    """Where a mutation applies to one flight of the peer."""

    MESSAGE = 0  # a handshake message as the peer builds it, before its transcript (MACs stay consistent)
    SENT_MESSAGE = 1  # a handshake message after the transcript, before record protection
    RECORDS = 2  # the flight's plaintext records: boundaries, types, padding (then sealed by the peer)
    WIRE = 3  # the sealed bytes on the wire


class Action(IntEnum):
    """What happens after the handshake, in order."""

    PEER_DATA = 0  # the peer sends ``size`` bytes of application data
    TARGET_DATA = 1  # the targets send ``size`` bytes
    PEER_KEY_UPDATE = 2  # the peer sends KeyUpdate (update_requested when ``size`` is odd), then data
    TARGET_KEY_UPDATE = 3  # the targets send KeyUpdate (never update_requested: s2n cannot ask), then ``size`` bytes
    PEER_CLOSE = 4  # the peer sends close_notify
    TARGET_CLOSE = 5  # the targets send close_notify
    PEER_ALERT = 6  # the peer sends a fatal alert, description ``size % 256``
    PEER_EOF = 7  # the peer's byte stream ends without close_notify


@dataclass(frozen=True)
class Mutation:
    """One change to one flight of the peer; every field is taken modulo what it addresses."""

    stage: Stage
    flight: int = 0
    target: int = 0  # message index (message stages) or record index (records, wire)
    op: int = 0
    node: int = 0  # field-tree node index (message stages)
    value: int = 0
    data: bytes = b""


@dataclass(frozen=True)
class Event:
    """One post-handshake step; ``chunk`` splits what the peer sends into pieces (0: whole)."""

    action: Action
    size: int = 0
    chunk: int = 0


@dataclass(frozen=True)
class Scenario:
    """One lockstep run: the side under test, its peer, the peer's mutations and what follows the handshake."""

    role: Role = Role.SERVER
    policy: str = "default_tls13"
    cert_type: str = "ecdsa-p256"
    seed: int = 0
    peer: Peer = Peer.ENGINE
    peer_policy: str | None = None  # None: the target's policy
    peer_compat: str = "s2n"
    chunk: int = 0
    trust: str = "ca"  # what a client target trusts (certs.TRUST_CHOICES); a server target ignores it
    mutations: tuple[Mutation, ...] = ()
    events: tuple[Event, ...] = field(default=())

    # ---- binary ----

    @classmethod
    def decode(cls, data: bytes) -> Scenario:
        """The scenario any byte string stands for."""
        header = data[:_HEADER_SIZE].ljust(_HEADER_SIZE, b"\x00")
        flags = header[0]
        mutations: list[Mutation] = []
        events: list[Event] = []
        items = TotalReader(data[_HEADER_SIZE:])
        while not items.done:
            tag = items.uint(1)
            if tag % 2 == 0:
                mutations.append(_read_mutation(tag, items))
            else:
                events.append(Event(Action((tag >> 1) % len(Action)), items.uint(2), items.uint(1)))
        return cls(
            role=Role.CLIENT if flags & _FLAG_CLIENT else Role.SERVER,
            policy=TLS13_POLICY_NAMES[header[1] % len(TLS13_POLICY_NAMES)],
            cert_type=CERT_TYPES[header[2] % len(CERT_TYPES)],
            seed=int.from_bytes(header[4:8], "big"),
            peer=Peer.S2N if flags & _FLAG_S2N_PEER else Peer.ENGINE,
            peer_policy=TLS13_POLICY_NAMES[header[3] % len(TLS13_POLICY_NAMES)] if flags & _FLAG_PEER_POLICY else None,
            peer_compat="rfc" if flags & _FLAG_RFC_PEER else "s2n",
            chunk=header[8],
            trust=TRUST_CHOICES[(flags >> _TRUST_SHIFT) % len(TRUST_CHOICES)],
            mutations=tuple(mutations),
            events=tuple(events),
        )

    def encode(self) -> bytes:
        """The canonical byte string of this scenario."""
        self.validate()
        flags = (
            (_FLAG_CLIENT if self.role is Role.CLIENT else 0)
            | (_FLAG_S2N_PEER if self.peer is Peer.S2N else 0)
            | (_FLAG_RFC_PEER if self.peer_compat == "rfc" else 0)
            | (_FLAG_PEER_POLICY if self.peer_policy is not None else 0)
            | TRUST_CHOICES.index(self.trust) << _TRUST_SHIFT
        )
        peer_policy = TLS13_POLICY_NAMES.index(self.peer_policy) if self.peer_policy is not None else 0
        out = bytearray([flags, TLS13_POLICY_NAMES.index(self.policy), CERT_TYPES.index(self.cert_type), peer_policy])
        out += self.seed.to_bytes(4, "big") + bytes([self.chunk])
        for mutation in self.mutations:
            out += bytes([mutation.stage << 1, mutation.flight, mutation.target, mutation.op])
            out += mutation.node.to_bytes(2, "big") + mutation.value.to_bytes(2, "big")
            out += bytes([len(mutation.data)]) + mutation.data
        for event in self.events:
            out += bytes([event.action << 1 | 1]) + event.size.to_bytes(2, "big") + bytes([event.chunk])
        return bytes(out)

    def validate(self) -> None:
        """Raise ``ScenarioError`` for anything the binary form cannot hold."""
        _check(self.policy in TLS13_POLICY_NAMES, f"unknown TLS 1.3 policy {self.policy!r}")
        _check(
            self.peer_policy is None or self.peer_policy in TLS13_POLICY_NAMES,
            f"unknown peer policy {self.peer_policy!r}",
        )
        _check(self.cert_type in CERT_TYPES, f"unknown certificate type {self.cert_type!r}")
        _check(self.trust in TRUST_CHOICES, f"unknown trust choice {self.trust!r}")
        _check(self.peer_compat in COMPAT_MODES, f"unknown compat mode {self.peer_compat!r}")
        _check(0 <= self.seed < 1 << 32, "seed must be in 0..2**32-1")
        _check(0 <= self.chunk < 256, "chunk must be in 0..255")
        for mutation in self.mutations:
            _check(
                all(0 <= n < 256 for n in (mutation.flight, mutation.target, mutation.op)), "flight/target/op: 0..255"
            )
            _check(0 <= mutation.node < 1 << 16 and 0 <= mutation.value < 1 << 16, "node/value: 0..65535")
            _check(len(mutation.data) <= _MAX_DATA, f"mutation data: at most {_MAX_DATA} bytes")
        for event in self.events:
            _check(0 <= event.size < 1 << 16 and 0 <= event.chunk < 256, "event size 0..65535, chunk 0..255")

    # ---- JSON ----

    def to_json(self) -> dict[str, Any]:
        """The readable form (bytes as hex, enums by name)."""
        return {
            "role": self.role.value,
            "policy": self.policy,
            "cert": self.cert_type,
            "seed": self.seed,
            "peer": {"implementation": self.peer.value, "policy": self.peer_policy, "compat": self.peer_compat},
            "chunk": self.chunk,
            "trust": self.trust,
            "mutations": [
                {"stage": m.stage.name.lower(), "flight": m.flight, "target": m.target, "op": m.op, "node": m.node,
                 "value": m.value, "data": m.data.hex()}
                for m in self.mutations
            ],
            "events": [{"action": e.action.name.lower(), "size": e.size, "chunk": e.chunk} for e in self.events],
        }  # fmt: skip

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Scenario:
        """Read the readable form; ``ScenarioError`` names the first thing that is wrong."""
        try:
            peer = document.get("peer", {})
            scenario = cls(
                role=Role(document.get("role", "server")),
                policy=document.get("policy", "default_tls13"),
                cert_type=document.get("cert", "ecdsa-p256"),
                seed=int(document.get("seed", 0)),
                peer=Peer(peer.get("implementation", "engine")),
                peer_policy=peer.get("policy"),
                peer_compat=peer.get("compat", "s2n"),
                chunk=int(document.get("chunk", 0)),
                trust=document.get("trust", "ca"),
                mutations=tuple(_mutation_from_json(item) for item in document.get("mutations", ())),
                events=tuple(
                    Event(Action[item["action"].upper()], int(item.get("size", 0)), int(item.get("chunk", 0)))
                    for item in document.get("events", ())
                ),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            raise ScenarioError(f"bad scenario JSON: {error!r}") from None
        scenario.validate()
        return scenario

    def to_json_text(self) -> str:
        """``to_json`` as indented text."""
        return json.dumps(self.to_json(), indent=2)


def _read_mutation(tag: int, items: TotalReader) -> Mutation:
    stage = Stage((tag >> 1) % len(Stage))
    flight, target, op = items.uint(1), items.uint(1), items.uint(1)
    node, value = items.uint(2), items.uint(2)
    return Mutation(stage, flight, target, op, node, value, items.data(items.uint(1)))


def _mutation_from_json(item: dict[str, Any]) -> Mutation:
    return Mutation(
        Stage[item["stage"].upper()],
        int(item.get("flight", 0)),
        int(item.get("target", 0)),
        int(item.get("op", 0)),
        int(item.get("node", 0)),
        int(item.get("value", 0)),
        bytes.fromhex(item.get("data", "")),
    )


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioError(message)
