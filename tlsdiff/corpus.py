"""Seed corpora, made reproducibly by one command (``tlsdiff corpus generate``), and corpus merging.

Lockstep targets get scenarios (``tlsdiff.fuzz_scenario``): every policy family, every
certificate type, HelloRetryRequest pairs, several seeds, with and without a first
mutation, and event sequences after the handshake. The ClientHello parse target gets
ClientHello bodies: the engine's under many policies, RFC 8448's, and (when the
project's set-up installed them) ones captured on loopback from ``openssl s_client``,
``gnutls-cli`` and Python's ``ssl`` by ``ci/capture_client_hellos.py``. Seeds are named
by their SHA-256, so generating twice writes the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.policies import TLS13_POLICY_NAMES
from tlsdiff.certs import CERT_TYPES, TRUST_CHOICES
from tlsdiff.fuzz_scenario import Action, Event, Mutation, Peer, Scenario, Stage
from tlsdiff.harness import Role

__all__ = ["HELLO_RETRY_PAIRS", "generate", "merge", "scenario_seeds"]

# (target policy, peer policy, role of the target): pairs that make the server send a HelloRetryRequest.
HELLO_RETRY_PAIRS = (("20250211", "default_tls13"), ("20251113", "test_all_tls13"))
_POLICY_STEP = 7  # every 7th policy: all families, a corpus that stays small
_SCENARIO_TARGETS = ("server_diff", "client_diff", "conversation_diff", "record_diff", "cert_chain_diff",
                     "engine_robustness")  # fmt: skip
_CONVERSATIONS = (
    (Event(Action.PEER_DATA, 5120), Event(Action.TARGET_DATA, 20000), Event(Action.PEER_CLOSE)),
    (Event(Action.PEER_KEY_UPDATE, 1), Event(Action.PEER_DATA, 100), Event(Action.TARGET_KEY_UPDATE, 0)),
    (Event(Action.PEER_DATA, 16384, 7), Event(Action.TARGET_CLOSE), Event(Action.PEER_EOF)),
    (Event(Action.PEER_ALERT, 10),),
    (Event(Action.TARGET_DATA, 1), Event(Action.PEER_DATA, 0), Event(Action.PEER_EOF)),
)


def _handshakes(role: Role) -> Iterator[Scenario]:
    for index, policy in enumerate(TLS13_POLICY_NAMES[::_POLICY_STEP]):
        yield Scenario(role=role, policy=policy, cert_type=CERT_TYPES[index % len(CERT_TYPES)], seed=index)
    for cert_type in CERT_TYPES:
        yield Scenario(role=role, cert_type=cert_type, seed=1)
    for target_policy, peer_policy in HELLO_RETRY_PAIRS:
        # The pairs are (server policy, client policy): the target plays whichever role it is given.
        own, other = (target_policy, peer_policy) if role is Role.SERVER else (peer_policy, target_policy)
        yield Scenario(role=role, policy=own, peer_policy=other, cert_type="ecdsa-p384", seed=3)
    yield Scenario(role=role, peer=Peer.S2N, seed=4)
    yield Scenario(role=role, chunk=1, seed=5)


def scenario_seeds(target: str) -> list[Scenario]:
    """The seed scenarios of a lockstep target."""
    role = Role.CLIENT if target in ("client_diff", "cert_chain_diff") else Role.SERVER
    seeds = list(_handshakes(role))
    if target in ("conversation_diff", "record_diff", "engine_robustness"):
        seeds += [Scenario(role=role, seed=6 + n, events=events) for n, events in enumerate(_CONVERSATIONS)]
    if target == "record_diff":
        seeds += [Scenario(seed=20, mutations=(Mutation(Stage.RECORDS, 2, 0, op, 0, 1),),
                           events=(Event(Action.PEER_DATA, 300),)) for op in range(4)]  # fmt: skip
    if target == "cert_chain_diff":
        pairs = enumerate(zip(CERT_TYPES * 2, TRUST_CHOICES[1:], strict=False))
        seeds += [Scenario(role=role, cert_type=cert_type, trust=trust, seed=40 + n) for n, (cert_type, trust) in pairs]
    first = Mutation(Stage.MESSAGE, 0, 0, 1, 3, 1)
    seeds.append(Scenario(role=role, seed=30, mutations=(first,)))
    return seeds


def _rfc8448_client_hellos() -> Iterator[bytes]:
    folder = Path(__file__).resolve().parent.parent / "tests" / "data" / "rfc8448"
    for path in sorted(folder.glob("section*.json")):
        for step in json.loads(path.read_text()):
            hello = step.get("values", {}).get("ClientHello")
            if hello:
                yield bytes.fromhex(hello)[4:]


def _engine_client_hellos() -> Iterator[bytes]:
    from tlsdiff.harness import Setup, open_engine  # noqa: PLC0415

    for index, policy in enumerate(TLS13_POLICY_NAMES[::3]):
        client = open_engine(Setup(Role.CLIENT, policy, "ecdsa-p256", index))
        record = client.start().output
        yield record[5 + 4 : 5 + int.from_bytes(record[3:5], "big")]


def _captured_client_hellos() -> Iterator[bytes]:
    script = Path(__file__).resolve().parent.parent / "ci" / "capture_client_hellos.py"
    if not script.is_file():
        return
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, str(script), folder], capture_output=True, timeout=300, check=False)
        if done.returncode != 0:
            print(f"[corpus] captures failed: {done.stderr.decode(errors='replace').strip()[:200]}", file=sys.stderr)
        for path in sorted(Path(folder).glob("*.bin")):
            yield path.read_bytes()


def _write(folder: Path, inputs: Iterable[bytes]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    names = set()
    for data in inputs:
        name = hashlib.sha256(data).hexdigest()[:16]
        names.add(name)
        (folder / name).write_bytes(data)
    return len(names)


def _token(value: int, size: int) -> str:
    return '"' + "".join(f"\\x{byte:02x}" for byte in value.to_bytes(size, "big")) + '"'


def dictionary() -> list[str]:
    """libFuzzer dictionary lines: record headers, versions, and every code point s2n's policies use."""
    from engine.policies import CIPHER_SUITES, CURVES, KEM_GROUPS, SIGNATURE_SCHEMES  # noqa: PLC0415
    from engine.wire.extensions import ExtensionType  # noqa: PLC0415

    lines = [f"record_{kind}_{version:04x}={_token(kind << 16 | version, 3)}"
             for kind in (20, 21, 22, 23) for version in (0x0301, 0x0303)]  # fmt: skip
    lines += [f"version_{version:04x}={_token(version, 2)}" for version in (0x0304, 0x0303, 0x0302, 0x0301, 0x7F1C)]
    tables = {"extension": [int(e) for e in ExtensionType], "suite": list(CIPHER_SUITES),
              "group": [*CURVES, *KEM_GROUPS], "scheme": list(SIGNATURE_SCHEMES)}  # fmt: skip
    for name, values in tables.items():
        lines += [f"{name}_{value:04x}={_token(value, 2)}" for value in sorted(set(values))]
    lines += ['ccs="\\x14\\x03\\x03\\x00\\x01\\x01"', 'hrr_random_head="\\xcf\\x21\\xad\\x74"']
    return lines


def generate(out: Path) -> dict[str, int]:
    """Write every target's seed folder and dictionary under ``out``; return the number of seeds per target."""
    counts = {
        target: _write(out / target, (s.encode() for s in scenario_seeds(target))) for target in _SCENARIO_TARGETS
    }
    dicts = out / "dicts"
    dicts.mkdir(parents=True, exist_ok=True)
    for target in (*_SCENARIO_TARGETS, "client_hello_parse"):
        (dicts / f"{target}.dict").write_text(
            "# TLS 1.3 constants (tlsdiff corpus generate)\n" + "\n".join(dictionary()) + "\n"
        )
    hellos = [*_rfc8448_client_hellos(), *_engine_client_hellos(), *_captured_client_hellos()]
    counts["client_hello_parse"] = _write(out / "client_hello_parse", hellos)
    return counts


def merge(target: str, sources: list[Path], script: Path, into: Path | None = None) -> tuple[int, int]:
    """libFuzzer's ``-merge=1`` of ``sources`` into ``into`` (default ``corpus/TARGET``): keep what adds coverage.

    Returns the number of inputs before and after.
    """
    corpus = into or Path(__file__).resolve().parent.parent / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    before = sum(1 for _ in corpus.iterdir())
    for source in sources:
        if not source.is_dir():
            raise OSError(f"not a directory: {source}")
    command = [sys.executable, str(script), "-merge=1", str(corpus), *map(str, sources)]
    # libFuzzer's merge re-runs the script itself: its shebang must find this interpreter first on PATH.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(command, capture_output=True, timeout=3600, check=False, env=env)
    if done.returncode != 0:
        raise OSError(f"merge failed: {done.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    return before, sum(1 for _ in corpus.iterdir())
