"""Bytes after a certificate's DER encoding in the server's Certificate: read as s2n-tls reads them.

s2n parses each cert_data with ``d2i_X509``, which stops at the end of the outer TLV. After
the leaf at most 3 bytes may follow (``s2n_openssl_x509_parse``, crypto/s2n_openssl_x509.c:75-89,
``S2N_MAX_ALLOWED_CERT_TRAILING_BYTES``); after any other certificate any number
(``s2n_openssl_x509_parse_without_length_validation``, tls/s2n_x509_validator.c:592-598).
The engine refused every one of them (``BadCertificateError``), where s2n went on to the
CertificateVerify (fuzz finding ``verdict/client/flight0/SERVER_CERT!=SERVER_CERT_VERIFY/
engine=BadCertificateError|s2n=S2N_ERR_VERIFY_SIGNATURE``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engine.errors import BadCertificateError
from engine.handshake.certificates import parse_chain
from engine.instrument import MessageHook
from engine.wire.handshake import HandshakeType
from tests.engine.conversation import assert_lockstep, conversation, sides
from tlsdiff.certs import certificate_for
from tlsdiff.errors_table import same_meaning
from tlsdiff.fuzz_scenario import Scenario
from tlsdiff.harness import Role, Status
from tlsdiff.lockstep import run_scenario

pytestmark = pytest.mark.openssl_engine

_PINNED = Path(__file__).parents[2] / "corpus/regression/cert_chain_diff/cert-trailing-bytes.bin"


def _certificate_hook(leaf_trailing: int, copy_trailing: int | None) -> MessageHook:
    """A message hook: the leaf gets ``leaf_trailing`` zero bytes; with ``copy_trailing`` a copy of it
    with that many follows as a second entry (s2n's OpenSSL drops it: an untrusted duplicate)."""

    def hook(message_type: int, message: bytes) -> bytes:
        if message_type != HandshakeType.CERTIFICATE:
            return message
        body = message[4:]
        context_length = body[0]
        entries = body[1 + context_length + 3 :]
        cert_length = int.from_bytes(entries[:3], "big")
        cert = entries[3 : 3 + cert_length]
        extensions = entries[3 + cert_length : 3 + cert_length + 2]
        assert extensions == b"\x00\x00" and len(entries) == 3 + cert_length + 2  # one entry, no extensions

        def entry(data: bytes) -> bytes:
            return len(data).to_bytes(3, "big") + data + b"\x00\x00"

        listed = entry(cert + bytes(leaf_trailing))
        if copy_trailing is not None:
            listed += entry(cert + bytes(copy_trailing))
        body = body[: 1 + context_length] + len(listed).to_bytes(3, "big") + listed
        return bytes([message_type]) + len(body).to_bytes(3, "big") + body

    return hook


@pytest.mark.parametrize(
    ("leaf_trailing", "copy_trailing", "complete"),
    [(1, None, True), (3, None, True), (4, None, False), (0, 1, True), (0, 200, True), (4, 1, False)],
)
def test_trailing_bytes_lockstep(leaf_trailing: int, copy_trailing: int | None, complete: bool) -> None:
    with conversation(sides(Role.CLIENT), message_hook=_certificate_hook(leaf_trailing, copy_trailing)) as run:
        steps = run.handshake()
    assert_lockstep(steps)
    last = steps[-1]
    assert (last.s2n.status is Status.COMPLETE) is complete, last.s2n
    assert same_meaning(last.engine.error, last.s2n.error) or not last.s2n.error, (last.engine, last.s2n)


def test_pinned_finding_agrees() -> None:
    result = run_scenario(Scenario.decode(_PINNED.read_bytes()), snapshots=False)
    assert result.divergence is None


def test_rfc_reading_refuses_trailing_bytes() -> None:
    """Without the s2n reading cert_data is one DER certificate (RFC 8446 section 4.4.2)."""
    der = x509.load_pem_x509_certificate(certificate_for("ecdsa-p256").ca_pem).public_bytes(Encoding.DER)
    assert len(parse_chain([der + b"\x00"], trailing=True)) == 1
    with pytest.raises(BadCertificateError):
        parse_chain([der + b"\x00"])
    with pytest.raises(BadCertificateError):
        parse_chain([der + bytes(4)], trailing=True)
    assert len(parse_chain([der, der + bytes(50)], trailing=True)) == 2
