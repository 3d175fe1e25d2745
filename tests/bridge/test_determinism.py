"""Seeded randomness: same seed, same bytes (in one process and across processes); the C
stream equals the Python spec; the draw log shows s2n's draws in order."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.randomness import DrawKind, SeededRandomSource, StreamLabel
from s2n_bridge import DrawLog
from s2n_bridge._native import profile
from s2n_bridge.rng import BridgeStream
from tlsdiff.scenario import run_s2n_pair
from tlsdiff.transcript import transcript_sha256


def _digest(policy: str, cert_type: str, seed: int) -> str:
    return transcript_sha256(run_s2n_pair(policy, cert_type, seed).records)


@pytest.mark.parametrize("cert_type", ["ecdsa-p256", "rsa-pss-2048"])
@pytest.mark.parametrize("policy", ["default_tls13", "test_all_tls13"])
def test_same_seed_same_transcript_in_one_process(policy: str, cert_type: str) -> None:
    first = run_s2n_pair(policy, cert_type, 42)
    second = run_s2n_pair(policy, cert_type, 42)
    assert first.records == second.records
    assert first.client_key_log == second.client_key_log


def test_other_seed_other_bytes() -> None:
    first, other = (
        run_s2n_pair("default_tls13", "ecdsa-p256", 42),
        run_s2n_pair("default_tls13", "ecdsa-p256", 43),
    )
    assert first.records[0].data != other.records[0].data  # the ClientHello random differs
    assert transcript_sha256(first.records) != transcript_sha256(other.records)


def test_same_seed_same_transcript_across_processes() -> None:
    command = [
        sys.executable,
        "-m",
        "tlsdiff.cli",
        "s2n-handshake",
        "--seed",
        "42",
        "--cert",
        "rsa-2048",
        "--json",
    ]
    outputs = [json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout) for _ in range(2)]
    here = _digest("default_tls13", "rsa-2048", 42)
    assert outputs[0]["transcript_sha256"] == outputs[1]["transcript_sha256"] == here


def test_c_stream_matches_python_spec() -> None:
    sizes = [1, 31, 32, 64, 65, 7, 200, 3]
    python_stream = SeededRandomSource(2**63 + 5, StreamLabel.SERVER)
    c_stream = BridgeStream(2**63 + 5, StreamLabel.SERVER)
    assert [c_stream.draw(size) for size in sizes] == [python_stream.draw(size) for size in sizes]
    assert c_stream.drawn == python_stream.drawn == sum(sizes)


def test_draw_log_records_s2n_draws_in_order() -> None:
    with DrawLog() as log:
        run_s2n_pair("default_tls13", "ecdsa-p256", 5)
    connection_draws = [(draw.stream.split("#")[0], draw.size) for draw in log.draws if draw.stream != "outside"]
    if profile().name == "openssl":
        # DESIGN.md: client random, session id, P-256 key; server random, P-256 key.
        assert connection_draws == [("client", 32)] * 3 + [("server", 32)] * 2
    else:
        assert [size for _, size in connection_draws] == [32, 32, 32, 32, 32]
    assert log.dropped == 0


def test_rsa_pss_salt_comes_from_the_connection_stream() -> None:
    with DrawLog() as log:
        run_s2n_pair("default_tls13", "rsa-2048", 5)
    server_draws = [draw for draw in log.draws if draw.stream.startswith("server")]
    assert server_draws[-1].size == 32  # the SHA-256 PSS salt, drawn last by the signer
    assert server_draws[-1].kind is DrawKind.BYTES
