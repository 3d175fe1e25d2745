"""Seed corpora, made reproducibly by one command (``tlsdiff corpus generate``); corpus merging and minimizing.

Lockstep targets get scenarios (``tlsdiff.fuzz_scenario``): every policy family, every
certificate type, HelloRetryRequest pairs, several seeds, with and without a first
mutation, and event sequences after the handshake. The record-layer target gets its own
inputs (``tlsdiff.record_input.seed_inputs``); the cross-build target the server and client
handshakes in its lane. The ClientHello parse target gets
ClientHello bodies: the engine's under many policies, RFC 8448's, and (when the
project's set-up installed them) ones captured on loopback from ``openssl s_client``,
``gnutls-cli`` and Python's ``ssl`` by ``ci/capture_client_hellos.py``. Seeds are named
by their SHA-256, so generating twice writes the same files.

Corpus upkeep runs the target's own script under libFuzzer: ``merge`` (``-merge=1``) adds
what brings new coverage to a corpus; ``minimize`` (``-set_cover_merge=1``) rewrites one to
a small set of its inputs that covers the same features, replacing it in one rename.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.policies import TLS13_POLICY_NAMES
from tlsdiff.atomic import fsync_path
from tlsdiff.certs import CERT_TYPES, TRUST_CHOICES
from tlsdiff.fuzz_scenario import Action, Event, Mutation, Peer, Scenario, Stage
from tlsdiff.harness import Role
from tlsdiff.record_input import seed_inputs

__all__ = [
    "HELLO_RETRY_PAIRS",
    "Minimized",
    "dictionary",
    "generate",
    "merge",
    "minimize",
    "scenario_seeds",
    "set_cover_merge_supported",
]

# (target policy, peer policy, role of the target): pairs that make the server send a HelloRetryRequest.
HELLO_RETRY_PAIRS = (("20250211", "default_tls13"), ("20251113", "test_all_tls13"))
_POLICY_STEP = 7  # every 7th policy: all families, a corpus that stays small
_SCENARIO_TARGETS = ("server_diff", "client_diff", "conversation_diff", "cert_chain_diff", "engine_robustness")
_CONVERSATIONS = (
    (Event(Action.PEER_DATA, 5120), Event(Action.TARGET_DATA, 20000), Event(Action.PEER_CLOSE)),
    (Event(Action.PEER_KEY_UPDATE, 1), Event(Action.PEER_DATA, 100), Event(Action.TARGET_KEY_UPDATE, 0)),
    (Event(Action.PEER_DATA, 16384, 7), Event(Action.TARGET_CLOSE), Event(Action.PEER_EOF)),
    (Event(Action.PEER_ALERT, 10),),
    (Event(Action.TARGET_DATA, 1), Event(Action.PEER_DATA, 0), Event(Action.PEER_EOF)),
)
_MERGE_TIMEOUT = 3600
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2  # <fcntl.h>, <linux/fs.h>


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
    if target in ("conversation_diff", "engine_robustness"):
        seeds += [Scenario(role=role, seed=6 + n, events=events) for n, events in enumerate(_CONVERSATIONS)]
    if target == "cert_chain_diff":
        pairs = enumerate(zip(CERT_TYPES * 2, TRUST_CHOICES[1:], strict=False))
        seeds += [Scenario(role=role, cert_type=cert_type, trust=trust, seed=40 + n) for n, (cert_type, trust) in pairs]
    first = Mutation(Stage.MESSAGE, 0, 0, 1, 3, 1)
    seeds.append(Scenario(role=role, seed=30, mutations=(first,)))
    return seeds


def _cross_build_seeds() -> Iterator[bytes]:
    """The server and client handshakes, in the cross-build target's lane (policies both builds share)."""
    from tlsdiff.target_cross import cross_lane  # noqa: PLC0415

    seeds = [*scenario_seeds("server_diff"), *scenario_seeds("client_diff")]
    yield from dict.fromkeys(cross_lane(seed).encode() for seed in seeds)


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
    counts["record_diff"] = _write(out / "record_diff", (value.encode() for value in seed_inputs()))
    counts["cross_build_diff"] = _write(out / "cross_build_diff", _cross_build_seeds())
    for target in (*_SCENARIO_TARGETS, "record_diff", "cross_build_diff", "client_hello_parse"):
        (dicts / f"{target}.dict").write_text(
            "# TLS 1.3 constants (tlsdiff corpus generate)\n" + "\n".join(dictionary()) + "\n"
        )
    hellos = [*_rfc8448_client_hellos(), *_engine_client_hellos(), *_captured_client_hellos()]
    counts["client_hello_parse"] = _write(out / "client_hello_parse", hellos)
    return counts


def _count(folder: Path) -> int:
    return sum(1 for path in folder.iterdir() if path.is_file())


def _run_merge(script: Path, flag: str, into: Path, sources: Sequence[Path], env: Mapping[str, str]) -> str:
    """One libFuzzer merge (``flag``) of ``sources`` into ``into``; its stderr."""
    for source in sources:
        if not source.is_dir():
            raise OSError(f"not a directory: {source}")
    # env is the fuzz runner's (TLSDIFF_KEEP_GOING=1): an input that makes a finding is saved and
    # kept, where a bare script would crash on it and libFuzzer's merge would leave it out.
    command = [sys.executable, str(script), flag, str(into), *map(str, sources)]
    done = subprocess.run(command, capture_output=True, timeout=_MERGE_TIMEOUT, check=False, env=dict(env))
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0 or "MERGE-OUTER: successful" not in stderr:
        raise OSError(f"{flag} failed: {stderr.strip().splitlines()[-1:]}")
    return stderr


def merge(
    target: str, sources: list[Path], script: Path, into: Path | None = None, *, env: Mapping[str, str]
) -> tuple[int, int]:
    """libFuzzer's ``-merge=1`` of ``sources`` into ``into`` (default ``corpus/TARGET``): keep what adds coverage.

    ``env`` is the environment the script runs in (the fuzz runner's). Returns the number of
    inputs before and after.
    """
    corpus = into or Path(__file__).resolve().parent.parent / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    before = _count(corpus)
    _run_merge(script, "-merge=1", corpus, sources, env)
    return before, _count(corpus)


@dataclass(frozen=True)
class Minimized:
    """What ``minimize`` did: inputs before and after, and how (the merge flag, or why the fallback)."""

    before: int
    after: int
    how: str


def set_cover_merge_supported(script: Path, env: Mapping[str, str]) -> bool:
    """Whether the libFuzzer behind ``script`` knows ``-set_cover_merge`` (an unknown flag is only a warning)."""
    done = subprocess.run([sys.executable, str(script), "-help=1"], capture_output=True, timeout=_MERGE_TIMEOUT,
                          check=False, env=dict(env))  # fmt: skip
    return b"set_cover_merge" in done.stdout + done.stderr


def _fsync_tree(folder: Path) -> None:
    """libFuzzer writes its files without fsync: make them durable before they replace a corpus."""
    for path in folder.iterdir():
        fsync_path(path)
    fsync_path(folder)


def _exchange(first: Path, second: Path) -> None:
    """Swap two directories' names. Linux's renameat2(RENAME_EXCHANGE) does it in one step; elsewhere, three
    renames, during which ``second`` is briefly absent but both contents always exist under some name."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
            return
        error = ctypes.get_errno()
        if error not in (errno.EINVAL, errno.ENOSYS):  # the file system or kernel cannot exchange
            raise OSError(error, os.strerror(error), str(second))
    parked = first.with_name(first.name + ".old")
    os.rename(second, parked)
    os.rename(first, second)
    os.rename(parked, first)


def _put_in_place(fresh: Path, destination: Path) -> None:
    if destination.exists():
        _exchange(fresh, destination)
        shutil.rmtree(fresh)  # now the old folder
    else:
        os.rename(fresh, destination)
    descriptor = os.open(destination.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def minimize(script: Path, folder: Path, *, env: Mapping[str, str], into: Path | None = None) -> Minimized:
    """Rewrite ``folder`` (or write ``into``, new or empty) as a small covering set of its inputs.

    libFuzzer's ``-set_cover_merge=1`` (``-merge=1`` where libFuzzer lacks it, said in ``how``)
    writes into a fresh hidden sibling of the destination, which then replaces it in one
    rename: an interrupted run leaves the folder as it was (and at worst a ``.NAME.*.tmp``
    folder, safe to delete).
    """
    if not folder.is_dir():
        raise OSError(f"not a directory: {folder}")
    destination = into or folder
    if into is not None and into.exists() and (not into.is_dir() or any(into.iterdir())):
        raise ValueError(f"--into {into} exists and is not an empty directory")
    if into is not None and into.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"--into {into} is inside {folder}")
    supported = set_cover_merge_supported(script, env)
    flag = "-set_cover_merge=1" if supported else "-merge=1"
    destination.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent))
    try:
        before = _count(folder)
        _run_merge(script, flag, fresh, [folder], env)
        _fsync_tree(fresh)
        _put_in_place(fresh, destination)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    how = flag if supported else "-merge=1: this libFuzzer has no -set_cover_merge"
    return Minimized(before, _count(destination), how)
