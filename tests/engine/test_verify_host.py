"""A client's own host check (``EngineConfig.verify_host``), in lockstep with s2n's verify_host callback.

Both clients are given a recording callback; they must ask it about the same names in the
same order (tls/s2n_x509_validator.c:229-422: subjectAltName entries, then the CN when
there is no DNS, URI or IP entry, then the empty string) and accept or refuse alike.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from engine.config import Compat
from engine.handshake.host_check import rfc5952
from tests.engine.lockstep import engine_endpoint, lockstep
from tlsdiff.certs import CertSpec
from tlsdiff.harness import Role, Setup, Status, open_endpoint

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws

_ALERT_RECORD = 21


@dataclass(eq=False)  # hashed by identity: a Setup holding it is a cache key
class _Recorder:
    """A verify_host callback that answers with ``decide`` and remembers every name it was asked about."""

    decide: Callable[[str], bool]
    names: list[str] = field(default_factory=list)

    def __call__(self, name: str) -> bool:
        self.names.append(name)
        return self.decide(name)


@dataclass(frozen=True)
class _Case:
    spec: CertSpec
    decide: Callable[[str], bool]
    names: list[str]
    complete: bool


_CASES = {
    "first-san-accepted": _Case(CertSpec("ecdsa-p256"), lambda name: True, ["localhost"], True),
    "every-san-refused": _Case(CertSpec("ecdsa-p256"), lambda name: False, ["localhost", "127.0.0.1"], False),
    "ip-san-accepted": _Case(CertSpec("rsa-2048"), lambda name: name == "127.0.0.1", ["localhost", "127.0.0.1"], True),
    "ip-san-only": _Case(
        CertSpec("ecdsa-p256", dns_san=False), lambda name: name == "localhost", ["127.0.0.1"], False
    ),
    "cn-fallback": _Case(
        CertSpec("ecdsa-p384", "cn.example.test", dns_san=False, ip_san=False),
        lambda name: name == "cn.example.test", ["cn.example.test"], True,
    ),
    "ip-in-cn-refused-unasked": _Case(
        CertSpec("ecdsa-p256", "127.0.0.1", dns_san=False, ip_san=False), lambda name: True, [], False
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", _CASES.values(), ids=_CASES.keys())
def test_engine_and_s2n_ask_the_same_names_and_agree(case: _Case) -> None:
    s2n_names, engine_names = _Recorder(case.decide), _Recorder(case.decide)
    client = Setup(Role.CLIENT, "default_tls13", case.spec.cert_type, 5)
    server = engine_endpoint(Setup(Role.SERVER, "default_tls13", case.spec.cert_type, 5, served=(case.spec,)))
    with open_endpoint(replace(client, verify_host=s2n_names), "s2n") as s2n_client:
        engine_client = engine_endpoint(replace(client, verify_host=engine_names))
        verdict = lockstep(server, s2n_client, engine_client)
    assert verdict.engine.output == verdict.s2n.output
    expected = Status.COMPLETE if case.complete else Status.FAILED
    assert verdict.engine.status is verdict.s2n.status is expected
    assert engine_names.names == s2n_names.names == case.names
    if not case.complete:
        assert verdict.engine.output[0] == _ALERT_RECORD
        assert verdict.engine.meaning == verdict.s2n.meaning == "untrusted_certificate"


def test_a_refused_name_is_certificate_unknown() -> None:
    refuse = _Recorder(lambda name: False)
    client = engine_endpoint(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 2, verify_host=refuse))
    server = engine_endpoint(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 2))
    answer = server.deliver(client.start().output)
    refused = client.deliver(answer.output)
    assert refused.status is Status.FAILED
    assert refused.error == "CertificateUnknownError"
    assert refuse.names == ["localhost", "127.0.0.1"]


def test_what_the_callback_raises_reaches_the_caller_and_nothing_completes() -> None:
    def broken(name: str) -> bool:
        raise LookupError(name)

    client = engine_endpoint(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 2, verify_host=broken))
    server = engine_endpoint(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 2))
    answer = server.deliver(client.start().output)
    with pytest.raises(LookupError, match="localhost"):
        client.connection.receive_data(answer.output)
    assert not client.connection.handshake_complete
    assert client.connection.data_to_send() == b""  # no Finished went out


@pytest.mark.parametrize(
    ("address", "text"),
    [
        ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),  # the longest run wins
        ("1:0:0:1:0:0:1:1", "1::1:0:0:1:1"),  # on a tie, the first
        ("1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1"),  # a single zero group stays
        ("::", "::"),
        ("::ffff:1.2.3.4", "::ffff:102:304"),  # no dotted tail (s2n's printer, not inet_ntop's)
        ("fe80::ABCD", "fe80::abcd"),
        ("10.0.0.255", "10.0.0.255"),
    ],
)
def test_ip_names_are_printed_as_s2n_prints_them(address: str, text: str) -> None:
    assert rfc5952(ipaddress.ip_address(address).packed) == text


def test_ip_printing_matches_rfc5952_for_random_addresses() -> None:
    draw = random.Random(5952)
    for _ in range(2000):
        groups = [draw.choice((0, 0, 0, 1, 0xFFFF, draw.randrange(1 << 16))) for _ in range(8)]
        address = ipaddress.IPv6Address(b"".join(group.to_bytes(2, "big") for group in groups))
        if address.ipv4_mapped is None:  # Python prints those with a dotted tail in some versions
            assert rfc5952(address.packed) == address.compressed


# With no callback, both clients check their server name with s2n's default one (Compat.s2n_host_check).
_DEFAULT_CASES = {
    "case-folded": ("LocalHost", CertSpec("ecdsa-p256"), True),
    "other-name": ("other.test", CertSpec("ecdsa-p256"), False),
    "ip-san-as-text": ("127.0.0.1", CertSpec("rsa-2048"), True),
    "cn-fallback": ("cn.example.test", CertSpec("ecdsa-p256", "cn.example.test", dns_san=False, ip_san=False), True),
    "cn-unread-beside-an-ip-san": ("cn.example.test", CertSpec("ecdsa-p256", "cn.example.test", dns_san=False), False),
    "ip-in-cn": ("127.0.0.1", CertSpec("ecdsa-p256", "127.0.0.1", dns_san=False, ip_san=False), False),
    "one-wildcard-label": ("x.example.test", CertSpec("ecdsa-p256", "*.example.test"), True),
    "two-labels-under-a-wildcard": ("a.b.example.test", CertSpec("ecdsa-p256", "*.example.test"), False),
    "no-server-name": (None, CertSpec("ecdsa-p256"), False),
}


@pytest.mark.parametrize(("server_name", "spec", "complete"), _DEFAULT_CASES.values(), ids=_DEFAULT_CASES.keys())
def test_default_host_check_as_s2n(server_name: str | None, spec: CertSpec, complete: bool) -> None:
    client = Setup(Role.CLIENT, "default_tls13", spec.cert_type, 8, server_name=server_name)
    server = engine_endpoint(Setup(Role.SERVER, "default_tls13", spec.cert_type, 8, served=(spec,)))
    with open_endpoint(client, "s2n") as s2n_client:
        verdict = lockstep(server, s2n_client, engine_endpoint(client))
    assert verdict.engine.output == verdict.s2n.output
    expected = Status.COMPLETE if complete else Status.FAILED
    assert verdict.engine.status is verdict.s2n.status is expected
    if not complete:
        assert verdict.engine.meaning == verdict.s2n.meaning == "untrusted_certificate"


@pytest.mark.parametrize(("compat", "complete"), [(Compat.s2n(), True), (Compat.rfc(), False)], ids=["s2n", "rfc"])
def test_rfc6125_matching_never_reads_the_cn(compat: Compat, complete: bool) -> None:
    spec = CertSpec("ecdsa-p256", "cn.example.test", dns_san=False, ip_san=False)
    client = engine_endpoint(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 3, server_name="cn.example.test"),
                             compat=compat)  # fmt: skip
    server = engine_endpoint(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 3, served=(spec,)))
    answer = client.deliver(server.deliver(client.start().output).output)
    assert answer.status is (Status.COMPLETE if complete else Status.FAILED)
    assert answer.error == ("" if complete else "BadCertificateError")
