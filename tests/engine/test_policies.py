"""engine.policies against the real thing: the first ClientHello s2n-tls writes under every TLS 1.3 policy.

Each case configures an s2n client through the bridge, lets it write its ClientHello
(``negotiate()`` once: it then blocks waiting for the server), parses the record with
the engine's ``Reader`` and checks every policy-dependent field against what the data
predicts for the bridge's libcrypto (``TLSDIFF_S2N_PROFILE``: OpenSSL 3.0 or aws-lc).

Observed with both libcryptos, for all 111 policies: the extensions are always
supported_versions (43), supported_groups (10), key_share (51), signature_algorithms
(13), server_name (0), ec_point_formats (11), extended_master_secret (23), in that
order; they differ in contents only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.policies import (
    AWS_LC,
    CURVES,
    KEM_GROUPS,
    OPENSSL_3,
    TLS13_POLICY_NAMES,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    Libcrypto,
    UnknownPolicyError,
    client_hello_offer,
    policy,
)
from engine.policies._generate import NAMES_PATH, generate, read_names
from engine.wire.reader import Reader
from s2n_bridge import Config, Connection, Mode
from s2n_bridge._native import profile
from tlsdiff.certs import certificate_for

DEFAULT_TLS13_EXTENSIONS = (43, 10, 51, 13, 0, 11, 23)
LIBCRYPTOS = {"openssl": OPENSSL_3, "aws-lc": AWS_LC}


@dataclass(frozen=True)
class ClientHello:
    """The fields of a ClientHello record this test looks at."""

    legacy_version: int
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: bytes
    extensions: tuple[tuple[int, bytes], ...]

    def extension(self, extension_type: int) -> Reader:
        """A reader over the body of the one extension of that type."""
        bodies = [body for found, body in self.extensions if found == extension_type]
        assert len(bodies) == 1, f"extension {extension_type} appears {len(bodies)} times"
        return Reader(bodies[0])


def parse_client_hello(record: bytes) -> ClientHello:
    """One handshake record holding one ClientHello, parsed field by field."""
    reader = Reader(record)
    assert reader.uint(1) == 22  # handshake
    assert reader.uint(2) == 0x0301  # s2n's record version for a first ClientHello
    fragment = reader.sub_reader(2)
    reader.expect_end()
    assert fragment.uint(1) == 1  # client_hello
    body = fragment.sub_reader(3)
    fragment.expect_end()
    legacy_version = body.uint(2)
    body.bytes(32)  # random
    session_id = bytes(body.vector(1, 0, 32))
    suites_reader = body.sub_reader(2, 2)
    compression_methods = bytes(body.vector(1, 1))
    extensions_reader = body.sub_reader(2)
    body.expect_end()
    extensions: list[tuple[int, bytes]] = []
    while extensions_reader.remaining:
        extensions.append((extensions_reader.uint(2), bytes(extensions_reader.vector(2))))
    return ClientHello(legacy_version, session_id, u16s(suites_reader), compression_methods, tuple(extensions))


def u16s(reader: Reader) -> tuple[int, ...]:
    """Read two-byte values to the end."""
    values: list[int] = []
    while reader.remaining:
        values.append(reader.uint(2))
    return tuple(values)


def key_shares(reader: Reader) -> list[tuple[int, int]]:
    """The key_share extension's entries as (group, share length)."""
    shares = reader.sub_reader(2)
    reader.expect_end()
    entries: list[tuple[int, int]] = []
    while shares.remaining:
        entries.append((shares.uint(2), len(shares.vector(2, 1))))
    return entries


def share_size(group: int) -> int:
    """The size s2n's key share for a group has: an ECC point, or a KEM public key with its ECC point."""
    if group in KEM_GROUPS:
        kem_group = KEM_GROUPS[group]
        return kem_group.kem_public_key_size + (CURVES[kem_group.curve].share_size if kem_group.curve else 0)
    return CURVES[group].share_size


def libcrypto() -> Libcrypto:
    """The libcrypto of the bridge this process uses."""
    return LIBCRYPTOS[profile().name]


def s2n_client_hello(policy_name: str) -> ClientHello:
    """The first ClientHello an s2n client writes under ``policy_name``."""
    ca_pem = certificate_for("ecdsa-p256").ca_pem
    with (
        Config(policy_name, trust_pem=ca_pem) as config,
        Connection(config, Mode.CLIENT, seed=1, server_name="localhost") as connection,
    ):
        assert connection.negotiate() is False  # blocked: waiting for the server's flight
        return parse_client_hello(b"".join(connection.outgoing))


@pytest.mark.parametrize("policy_name", TLS13_POLICY_NAMES)
def test_client_hello_matches_policy_data(policy_name: str) -> None:
    security_policy = policy(policy_name)
    offer = client_hello_offer(security_policy, libcrypto())
    client_hello = s2n_client_hello(policy_name)

    assert client_hello.legacy_version == offer.legacy_version == 0x0303
    assert len(client_hello.session_id) == 32  # middlebox compatibility
    assert client_hello.compression_methods == b"\x00"
    assert client_hello.cipher_suites == offer.cipher_suites
    assert tuple(extension_type for extension_type, _ in client_hello.extensions) == offer.extensions

    versions = client_hello.extension(43).sub_reader(1)
    assert u16s(versions) == offer.supported_versions
    assert u16s(client_hello.extension(10).sub_reader(2)) == offer.groups
    assert u16s(client_hello.extension(13).sub_reader(2)) == offer.signature_schemes
    shares = key_shares(client_hello.extension(51))
    assert [group for group, _ in shares] == list(offer.key_share_groups)
    assert [size for _, size in shares] == [share_size(group) for group in offer.key_share_groups]
    assert bytes(client_hello.extension(11).rest()) == b"\x01\x00"  # ec_point_formats: uncompressed only
    assert bytes(client_hello.extension(23).rest()) == b""
    server_name = client_hello.extension(0)
    assert bytes(server_name.rest()) == b"\x00\x0c\x00\x00\x09localhost"


def test_default_tls13_client_hello_shape() -> None:
    """The DESIGN facts for default_tls13, pinned literally (the same on both libcryptos)."""
    client_hello = s2n_client_hello("default_tls13")
    assert tuple(extension_type for extension_type, _ in client_hello.extensions) == DEFAULT_TLS13_EXTENSIONS
    assert client_hello.cipher_suites == (
        0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC024, 0xC028, 0xC023, 0xC027,
        TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    )  # fmt: skip
    assert u16s(client_hello.extension(10).sub_reader(2)) == (0x0017, 0x001D, 0x0018, 0x0019)
    assert key_shares(client_hello.extension(51)) == [(0x0017, 65)]
    assert u16s(client_hello.extension(43).sub_reader(1)) == (0x0304, 0x0303)


def test_pq_policies_depend_on_the_libcrypto() -> None:
    default = policy("default")
    assert default.kem_groups == (0x11EC, 0x11EB, 0x11ED)
    assert client_hello_offer(default, OPENSSL_3).key_share_groups == (0x0017,)
    assert client_hello_offer(default, AWS_LC).key_share_groups == (0x11EC, 0x0017)
    assert client_hello_offer(default, AWS_LC).groups == (0x11EC, 0x11EB, 0x11ED, 0x0017, 0x001D, 0x0018, 0x0019)


def test_rc4_is_offered_only_with_aws_lc() -> None:
    upstream = policy("CloudFront-Upstream-2025")
    assert 0x0004 in upstream.cipher_suites
    assert 0x0004 not in client_hello_offer(upstream, OPENSSL_3).cipher_suites
    assert client_hello_offer(upstream, AWS_LC).cipher_suites[-2:] == (0x0004, TLS_EMPTY_RENEGOTIATION_INFO_SCSV)


def test_scsv_only_when_tls12_is_possible() -> None:
    assert client_hello_offer(policy("test_all_tls13"), OPENSSL_3).cipher_suites == (0x1301, 0x1302, 0x1303)
    assert policy("test_all_tls13").tls13_cipher_suites == (0x1301, 0x1302, 0x1303)
    assert policy("default_tls13").tls13_cipher_suites == (0x1301, 0x1302, 0x1303)


def test_policy_lookup() -> None:
    assert policy("Default_TLS13") is policy("default_tls13")  # s2n matches names case-insensitively
    assert policy("default").s2n_struct == "20251014"
    with pytest.raises(UnknownPolicyError, match="not an s2n-tls security policy") as raised:
        policy("no-such-policy")
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_names_are_the_project_list() -> None:
    assert tuple(read_names(NAMES_PATH)) == TLS13_POLICY_NAMES
    assert len(TLS13_POLICY_NAMES) == 111


def test_generated_data_is_current() -> None:
    """_data.py is exactly what the generator writes from the pinned s2n source."""
    data_path = Path(__file__).resolve().parents[2] / "engine" / "policies" / "_data.py"
    assert data_path.read_text(encoding="utf-8") == generate()
