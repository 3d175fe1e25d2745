"""Run one cell: start its peer, run the engine's side against it, check what both saw.

    result = run_cell(cell_by_id("openssl-server/engine-client/hrr=retry"), cert_dir)
    result.outcome, result.detail        # Outcome.PASSED, "TLS_AES_128_GCM_SHA256 x25519 ... HRR ..."

A declared ``unsupported`` cell returns that state and its reason without running; a
peer whose program is missing fails the cell with one line saying which. Each cell is
bounded by its timeout (the peer is killed in any case).
"""

from __future__ import annotations

import json
import socket
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from interop.cells import Cell
from interop.engine_side import EngineReport, run_engine
from interop.files import SNI_HOST
from interop.peer_process import PeerProcess, PeerStartError
from interop.peer_protocol import LOOPBACK, PeerReport, payload, sha256_hex
from interop.peers import Launch, launch, missing_binaries

__all__ = ["CellResult", "Observation", "Outcome", "observe_cell", "run_cell"]

_RECORD_OVERHEAD = 17  # content type byte and the 16-byte AEAD tag of every TLS 1.3 suite here


class Outcome(StrEnum):
    """A cell's result."""

    PASSED = "passed"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class CellResult:
    """What one cell gave: its outcome, a one-line detail (the reason, for failed and unsupported), its time."""

    cell_id: str
    outcome: Outcome
    detail: str
    seconds: float = 0.0

    def to_json(self) -> str:
        """One JSON object (the report reads these back)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CellResult:
        """Parse ``to_json``'s output."""
        raw = json.loads(text)
        return cls(raw["cell_id"], Outcome(raw["outcome"]), raw["detail"], raw["seconds"])


@dataclass(frozen=True)
class Observation:
    """Everything a cell's run saw: how the peer ran, and both sides' reports (the engine's holds the
    wire and the key log)."""

    cell: Cell
    launch: Launch
    engine: EngineReport
    peer: PeerReport


_PORT_ATTEMPTS = 3
_PYTHON_PEERS = ("s2n", "python-ssl", "tlslite")


def _free_port() -> int:
    # For a command-line server, which binds its own port: a port that was free a moment ago.
    with socket.create_server((LOOPBACK, 0)) as probe:
        port: int = probe.getsockname()[1]
        return port


def _start_command_server(
    stack: ExitStack, cell: Cell, cert_dir: Path, deadline: float
) -> tuple[Launch, PeerProcess, int]:
    """A command-line server peer on a port that was free; again on another if another process took it first."""
    for attempt in range(_PORT_ATTEMPTS):
        port = _free_port()
        plan = launch(cell, cert_dir, port)
        with ExitStack() as on_failure:
            peer = on_failure.enter_context(PeerProcess(plan, cell.conversation))
            try:
                peer.wait_listening(port, deadline)
            except PeerStartError:
                if attempt + 1 == _PORT_ATTEMPTS or not peer.exited():
                    raise
                continue
            stack.push(on_failure.pop_all())
            return plan, peer, port
    raise PeerStartError("no port")  # not reached: the last attempt raises


def observe_cell(cell: Cell, cert_dir: Path, timeout: float | None = None) -> Observation:
    """Run ``cell``'s engine side against its peer and return what both saw, unchecked.

    Raises ``PeerStartError`` (or ``OSError``) when the peer cannot be started or reached.
    """
    timeout = cell.timeout if timeout is None else timeout
    deadline = time.monotonic() + timeout
    with ExitStack() as stack:
        listener: socket.socket | None = None
        if cell.engine_role == "client" and cell.peer not in _PYTHON_PEERS:
            plan, peer, port = _start_command_server(stack, cell, cert_dir, deadline)
        else:
            # The engine server listens, or a Python server peer accepts on the socket handed to it.
            listener = stack.enter_context(socket.create_server((LOOPBACK, 0)))
            port = listener.getsockname()[1]
            handed_over = listener.fileno() if cell.engine_role == "client" else -1
            plan = launch(cell, cert_dir, port, handed_over)
            peer = stack.enter_context(PeerProcess(plan, cell.conversation))
        engine_listener = listener if cell.engine_role == "server" else None
        engine = run_engine(cell, cert_dir, port=port, listener=engine_listener, echo=plan.echo, timeout=timeout)
        return Observation(cell, plan, engine, peer.finish(deadline + 1.0))


def _expected_data(observed: Observation) -> tuple[str, str]:
    """The sha256 the engine and the peer must have received."""
    conversation = observed.cell.conversation
    to_peer = payload("engine->peer", conversation.to_peer, text=observed.launch.echo)
    to_engine = to_peer if observed.launch.echo else payload("peer->engine", conversation.to_engine)
    return sha256_hex(to_engine), sha256_hex(to_peer)


def _check_data(observed: Observation) -> list[str]:
    engine, peer, conversation = observed.engine, observed.peer, observed.cell.conversation
    problems = []
    for side, error in (("engine", engine.error), ("peer", peer.error)):
        if error:
            problems.append(f"{side} at {engine.stage if side == 'engine' else peer.stage}: {error}")
    engine_sha, peer_sha = _expected_data(observed)
    if engine.received_sha256 != engine_sha:
        problems.append(f"engine received {engine.received} B, sha256 mismatch")
    if not observed.launch.echo and peer.received_sha256 != peer_sha:
        problems.append(f"peer received {peer.received} of {conversation.to_peer} B, sha256 mismatch")
    answers = conversation.close_first == "peer" or observed.launch.answers_close_notify
    if answers and not engine.peer_closed:
        problems.append("the engine got no close_notify from the peer")
    if not observed.launch.echo and not peer.close_notify_received:
        problems.append("the peer got no close_notify from the engine")
    return problems


def _check_info(observed: Observation) -> list[str]:
    expect, info, peer = observed.cell.expect, observed.engine.info, observed.peer
    if info is None:
        return ["no connection info"]
    wanted = {
        "cipher": expect.cipher, "group": expect.group,
        "alpn": expect.alpn, "server_name": expect.server_name, "hello_retry": expect.hello_retry,
    }  # fmt: skip
    problems = [
        f"{name} {getattr(info, name)!r}, expected {value!r}"
        for name, value in wanted.items()
        if value is not None and getattr(info, name) != value
    ]
    scheme = expect.signature_scheme
    if scheme is not None and not info.signature_scheme.startswith(scheme):
        problems.append(f"signature_scheme {info.signature_scheme!r}, expected {scheme!r}")
    for name in ("cipher", "group"):  # where the peer reports them (s2n both, Python's ssl and tlslite the suite)
        theirs, ours = getattr(peer, name), getattr(info, name)
        if theirs is not None and theirs != ours:
            problems.append(f"the peer's {name} is {theirs}, the engine's {ours}")
    if expect.alpn is not None and observed.launch.python_report and peer.alpn != expect.alpn:
        problems.append(f"the peer's ALPN is {peer.alpn!r}")
    if observed.cell.feature == "sni" and observed.launch.python_report:
        seen = peer.server_name if observed.cell.engine_role == "client" else None
        if observed.cell.engine_role == "client" and seen != SNI_HOST:
            problems.append(f"the peer server saw SNI {seen!r}")
        if observed.cell.engine_role == "server" and peer.leaf_names and SNI_HOST not in peer.leaf_names:
            problems.append(f"the peer client got a certificate for {peer.leaf_names}")
    return problems + _check_records(observed)


def _check_records(observed: Observation) -> list[str]:
    size = observed.cell.expect.record_size
    if size is None:
        return []
    problems = []
    sent = observed.engine.record_lengths(sent=True)
    if not sent or max(sent) != size + _RECORD_OVERHEAD:
        problems.append(f"engine records up to {max(sent, default=0)} B, expected {size + _RECORD_OVERHEAD}")
    received = observed.engine.record_lengths(sent=False)
    peer_size = min(size, observed.launch.largest_write) + _RECORD_OVERHEAD
    if observed.launch.limits_records and max(received, default=0) != peer_size:
        problems.append(f"peer records up to {max(received, default=0)} B, expected {peer_size}")
    return problems


def _check_refusal(observed: Observation) -> list[str]:
    refusal, engine = observed.cell.expect.refusal, observed.engine
    if refusal is None:
        return []
    if engine.handshake:
        return [f"the handshake completed ({engine.info.cipher if engine.info else '?'}); a refusal was expected"]
    seen = engine.peer_alert if refusal.by == "peer" else engine.own_alert
    if seen != refusal.alert:
        return [f"expected the {refusal.by}'s {refusal.alert}, got: {engine.error}"]
    return []


def _summary(observed: Observation) -> str:
    engine, peer, refusal = observed.engine, observed.peer, observed.cell.expect.refusal
    if refusal is not None:
        peer_view = f"; the peer: {peer.alert or peer.error or 'no error'}"
        return f"refused by the {refusal.by}: {refusal.alert} ({engine.error}){peer_view}"
    info = engine.info
    if info is None:
        return "no handshake"
    parts = [info.cipher, info.group, info.signature_scheme]
    parts += [f"ALPN {info.alpn}"] if info.alpn else []
    parts += ["HRR"] if info.hello_retry else []
    parts += [f"{observed.cell.conversation.to_peer}+{engine.received} B sha256 ok"]
    parts += ["close_notify both ways" if engine.peer_closed else "close_notify from the engine"]
    return " ".join(parts)


def run_cell(cell: Cell, cert_dir: Path, *, timeout: float | None = None) -> CellResult:
    """Run ``cell`` against its peer (``cert_dir``: ``interop.files.write_certificates``) within
    ``timeout`` seconds (default: the cell's own)."""
    timeout = cell.timeout if timeout is None else timeout
    if cell.unsupported is not None and cell.expect.refusal is None:
        return CellResult(cell.id, Outcome.UNSUPPORTED, cell.unsupported)
    missing = missing_binaries((cell.peer,))
    if missing:
        return CellResult(cell.id, Outcome.FAILED, f"{', '.join(missing)} not installed (ci/setup.sh installs it)")
    start = time.monotonic()
    try:
        observed = observe_cell(cell, cert_dir, timeout)
    except (PeerStartError, OSError) as error:
        return CellResult(cell.id, Outcome.FAILED, f"{type(error).__name__}: {error}", time.monotonic() - start)
    if cell.expect.refusal is not None:
        problems = _check_refusal(observed)
    else:
        problems = _check_data(observed) + _check_info(observed)
    seconds = time.monotonic() - start
    if problems:
        declared = f"declared unsupported ({cell.unsupported}), but: " if cell.unsupported else ""
        return CellResult(cell.id, Outcome.FAILED, declared + "; ".join(problems), seconds)
    if cell.unsupported is not None:  # the declared refusal was seen
        return CellResult(cell.id, Outcome.UNSUPPORTED, f"{cell.unsupported}; seen: {_summary(observed)}", seconds)
    return CellResult(cell.id, Outcome.PASSED, _summary(observed), seconds)
