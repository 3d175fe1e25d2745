"""The unsupported tier: s2n on an older version it went on with, never a hello it refused."""

from __future__ import annotations

from tlsdiff.harness import Outcome, Role, Status
from tlsdiff.oracle import Tier, compare


def _locate(engine: Outcome, s2n: Outcome) -> tuple[str, str, tuple[str, ...]]:
    return "alert", "Alert.description", ()


def _refusals(s2n_error: str, protocol: str) -> tuple[Outcome, Outcome]:
    engine = Outcome("engine", Status.FAILED, b"\x15\x03\x03\x00\x02\x01\x00", "DecodeError",
                     last_message="CLIENT_HELLO", protocol="NONE")  # fmt: skip
    s2n = Outcome("s2n", Status.FAILED, b"\x15\x03\x01\x00\x02\x02\x46", s2n_error,
                  last_message="CLIENT_HELLO", protocol=protocol)  # fmt: skip
    return engine, s2n


def test_a_hello_refused_below_the_minimum_is_a_real_divergence() -> None:
    engine, s2n = _refusals("S2N_ERR_PROTOCOL_VERSION_UNSUPPORTED", "TLSv1.0")
    divergence = compare(Role.SERVER, "flight0", engine, s2n, _locate)
    assert divergence is not None and divergence.tier is not Tier.UNSUPPORTED


def test_s2n_failing_in_its_older_version_code_is_unsupported() -> None:
    engine, s2n = _refusals("S2N_ERR_BAD_MESSAGE", "TLSv1.2")
    divergence = compare(Role.SERVER, "flight0", engine, s2n, _locate)
    assert divergence is not None and divergence.tier is Tier.UNSUPPORTED


def test_no_version_chosen_yet_is_not_older() -> None:
    engine, s2n = _refusals("S2N_ERR_BAD_MESSAGE", "NONE")
    divergence = compare(Role.SERVER, "flight0", engine, s2n, _locate)
    assert divergence is not None and divergence.tier is not Tier.UNSUPPORTED
