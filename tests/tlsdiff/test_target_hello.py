"""The ClientHello parse differential (tlsdiff.target_hello) and the s2n getters behind it."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from engine.errors import DecodeError, UnsupportedExtensionError
from engine.wire.handshake import ClientHello, decode_client_hello_as_s2n
from s2n_bridge.client_hello import ParsedClientHello, parse_client_hello, parse_client_hello_fields
from s2n_bridge.errors import S2NError
from tlsdiff import target_hello
from tlsdiff.findings import FindingStore
from tlsdiff.oracle import divergence_error_class
from tlsdiff.scenario import run_pair
from tlsdiff.target_hello import ClientHelloMutator, ClientHelloParseTarget, engine_view, handshake_message

_POLICIES = ("default_tls13", "test_all_tls13", "default", "20230317")
_SESSION_ID_33 = bytes.fromhex("0303") + bytes(32) + b"\x21" + bytes(33) + bytes.fromhex("000213010100")


def _ext(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data


def _body(*extensions: bytes, tail: bytes = b"") -> bytes:
    block = b"".join(extensions)
    head = bytes.fromhex("0303") + bytes(range(32)) + b"\x00" + bytes.fromhex("00021301") + b"\x01\x00"
    return head + len(block).to_bytes(2, "big") + block + tail


@pytest.fixture(scope="module")
def real_bodies() -> list[bytes]:
    """The first ClientHello body of s2n and engine clients under several policies."""
    bodies = []
    for policy in _POLICIES:
        for client in ("s2n", "engine"):
            record = run_pair(client, "s2n", policy, "ecdsa-p256", 7, alpn=("h2",)).records[0].data
            message = record[5:]
            bodies.append(message[4 : 4 + int.from_bytes(message[1:4], "big")])
    return bodies


@pytest.fixture
def target() -> ClientHelloParseTarget:
    return ClientHelloParseTarget(byte_mutate=lambda data, max_size: data[:max_size])


def test_target_attributes(target: ClientHelloParseTarget) -> None:
    assert target.name == "client_hello_parse"
    assert target.description
    assert callable(target.mutator)


def test_real_client_hellos_agree(target: ClientHelloParseTarget, real_bodies: list[bytes]) -> None:
    for body in real_bodies:
        assert target.check(body) is None


def test_getters_report_default_tls13_client_hello(real_bodies: list[bytes]) -> None:
    body = real_bodies[0]
    parsed = parse_client_hello_fields(handshake_message(body))
    # DESIGN.md: default_tls13's ClientHello.
    assert parsed.legacy_version == 33  # s2n's one-byte form of 0x0303
    assert parsed.random == body[2:34]
    assert parsed.raw_message == body[:2] + bytes(32) + body[34:]
    assert len(parsed.session_id) == 32
    assert parsed.cipher_suites.hex() == "130113021303c02bc02fc02cc030cca9cca8c024c028c023c02700ff"
    assert parsed.compression_methods == b"\x00"
    assert [kind for kind, _ in parsed.extensions] == [43, 10, 51, 13, 0, 16, 11, 23]
    assert [kind for kind, _ in parsed.parsed_extensions] == [0, 10, 11, 13, 16, 43, 51, 23]
    assert parsed.supported_groups == (23, 29, 24, 25)
    assert parsed.server_name == b"localhost"
    assert parsed.legacy_record_version is None  # no record header was parsed
    assert parse_client_hello(handshake_message(body)) == parsed.raw_message
    assert engine_view(body, decode_client_hello_as_s2n(body)) == parsed


def test_unknown_extension_kept_only_in_the_raw_block() -> None:
    parsed = parse_client_hello_fields(handshake_message(_body(_ext(0x1234, b"ab"), _ext(0x1234, b""))))
    assert parsed.extensions == ((0x1234, b"ab"), (0x1234, b""))
    assert parsed.parsed_extensions == ()


@pytest.mark.parametrize(
    ("body", "s2n_error"),
    [
        (b"", "S2N_ERR_BAD_MESSAGE"),
        (_body()[:40], "S2N_ERR_BAD_MESSAGE"),
        (_body(_ext(10, b""), _ext(10, b"\x00\x00")), "S2N_ERR_DUPLICATE_EXTENSION"),
        (_SESSION_ID_33, "S2N_ERR_BAD_MESSAGE"),
    ],
)
def test_both_reject_alike(target: ClientHelloParseTarget, body: bytes, s2n_error: str) -> None:
    with pytest.raises(S2NError) as raised:
        parse_client_hello_fields(handshake_message(body))
    assert raised.value.name == s2n_error
    assert target.check(body) is None


@pytest.mark.parametrize(
    "body",
    [
        _body(tail=b"\xff\xff\xff"),  # bytes after the extensions block: both ignore them
        _body()[:-2] + b"\x07",  # one byte after the compression methods: no extensions
        _body()[:-4] + b"\x00",  # an empty compression-method list
        _body(_ext(99, b""), _ext(99, b"x")),  # repeats of a type s2n does not parse
    ],
)
def test_both_accept_lenient_forms(target: ClientHelloParseTarget, body: bytes) -> None:
    parse_client_hello_fields(handshake_message(body))
    assert target.check(body) is None


@pytest.mark.parametrize(
    "extension",
    [
        # tls/extensions/s2n_client_supported_groups.c s2n_supported_groups_parse_count: trailing bytes are ignored.
        _ext(10, bytes.fromhex("00020017") + b"\x00"),
        # tls/extensions/s2n_client_server_name.c s2n_client_server_name_parse: only the first entry, a host_name.
        _ext(0, (8).to_bytes(2, "big") + b"\x01\x00\x01x" + b"\x00\x00\x01y"),
        _ext(0, bytes.fromhex("0003000000")),  # a zero-length host name: s2n's getter returns it, empty
    ],
    ids=["groups-trailing", "name-not-host-first", "name-empty"],
)
def test_extension_bodies_read_as_s2n_reads_them_agree(target: ClientHelloParseTarget, extension: bytes) -> None:
    # Found by this target (bytes/server/parse/ClientHello/supported_groups and .../server_name); fixed in the engine.
    assert target.check(_body(extension)) is None


def test_a_field_difference_is_a_bytes_finding(monkeypatch: pytest.MonkeyPatch, target: ClientHelloParseTarget) -> None:
    real_view = target_hello.engine_view

    def planted(body: bytes, hello: ClientHello) -> ParsedClientHello:
        return dataclasses.replace(real_view(body, hello), supported_groups=None)

    monkeypatch.setattr(target_hello, "engine_view", planted)
    finding = target.check(_body(_ext(10, bytes.fromhex("00020017"))))
    assert finding is not None
    assert finding.signature == "bytes/server/parse/ClientHello/supported_groups"
    assert finding.identifier == divergence_error_class(finding.signature).__name__
    assert finding.summary["fields"] == {"supported_groups": ["None", "[0x0017]"]}
    assert any(line.startswith("! supported_groups") for line in finding.diff_lines)


def test_verdict_finding(monkeypatch: pytest.MonkeyPatch, target: ClientHelloParseTarget, tmp_path: Path) -> None:
    def reject(body: bytes) -> object:
        raise DecodeError("planted")

    monkeypatch.setattr(target_hello, "decode_client_hello_as_s2n", reject)
    finding = target.check(_body())
    assert finding is not None
    assert finding.signature == "verdict/server/parse/ClientHello/engine=DecodeError|s2n=accepted"
    directory = FindingStore(tmp_path).save(finding, _body())
    document = json.loads((directory / "finding.json").read_text())
    assert document["tier"] == "verdict"
    assert document["engine"]["verdict"] == "DecodeError"


def test_alert_finding_when_errors_mean_different_things(
    monkeypatch: pytest.MonkeyPatch, target: ClientHelloParseTarget
) -> None:
    def reject(body: bytes) -> object:
        raise UnsupportedExtensionError("planted")

    monkeypatch.setattr(target_hello, "decode_client_hello_as_s2n", reject)
    finding = target.check(b"")
    assert finding is not None
    verdicts = "engine=UnsupportedExtensionError|s2n=S2N_ERR_BAD_MESSAGE"
    assert finding.signature == f"alert/server/parse/ClientHello/{verdicts}"


def test_first_differing_field_names_the_signature(
    monkeypatch: pytest.MonkeyPatch, target: ClientHelloParseTarget
) -> None:
    def shifted(body: bytes, hello: ClientHello) -> ParsedClientHello:
        return dataclasses.replace(engine_view(body, hello), cipher_suites=b"\x13\x02", server_name=b"x")

    monkeypatch.setattr(target_hello, "engine_view", shifted)
    finding = target.check(_body())
    assert finding is not None
    assert finding.signature == "bytes/server/parse/ClientHello/cipher_suites"
    assert set(finding.summary["fields"]) == {"cipher_suites", "server_name"}


def test_engine_exception_is_a_crash_finding(monkeypatch: pytest.MonkeyPatch, target: ClientHelloParseTarget) -> None:
    def broken(body: bytes) -> object:
        raise ValueError("planted")

    monkeypatch.setattr(target_hello, "decode_client_hello_as_s2n", broken)
    finding = target.check(_body())
    assert finding is not None
    assert finding.signature.startswith("crash/server/ValueError/")
    assert finding.identifier.startswith("Crash_")


def test_mutator_is_bounded_total_and_seeded(real_bodies: list[bytes]) -> None:
    calls = 0

    def byte_mutate(data: bytes, max_size: int) -> bytes:
        nonlocal calls
        calls += 1
        return (data + b"\x00" * 100)[:max_size]

    mutator = ClientHelloMutator(byte_mutate)
    rng = random.Random(3)
    inputs = [*real_bodies, b"", b"\x03", rng.randbytes(300), _body(tail=b"\x00" * 3000)]
    for seed in range(400):
        data = inputs[seed % len(inputs)]
        max_size = rng.choice((0, 1, 50, 300, 4096))
        mutated = mutator(data, max_size, seed)
        assert len(mutated) <= max_size
        assert mutated == mutator(data, max_size, seed)
    assert calls > 0


def test_mutator_survives_a_failing_byte_mutator(real_bodies: list[bytes]) -> None:
    def failing(data: bytes, max_size: int) -> bytes:
        raise RuntimeError("libFuzzer is not running")

    mutator = ClientHelloMutator(failing)
    for seed in range(100):
        assert len(mutator(real_bodies[0], 200, seed)) <= 200


def test_registered_with_the_targets() -> None:
    from tlsdiff.targets import TARGETS  # noqa: PLC0415

    assert isinstance(TARGETS["client_hello_parse"], ClientHelloParseTarget)
