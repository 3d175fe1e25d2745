"""What an engine connection is configured with: policy, certificates, trust, options.

Compatibility switches live here too: where s2n-tls and RFC 8446 part ways, the
engine follows s2n by default (``Compat.s2n()``) and keeps the RFC behaviour one
switch away (``Compat.rfc()``); docs/compat.md lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from cryptography import x509

from engine.crypto.signer import Signer

__all__ = ["CertifiedKey", "Compat", "EngineConfig", "RecordSizing"]


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate chain (DER, leaf first) and the signer for its key."""

    chain: tuple[bytes, ...]
    signer: Signer

    @cached_property
    def leaf(self) -> x509.Certificate:
        """The end-entity certificate (parsed once; negotiation reads it on every handshake)."""
        return x509.load_der_x509_certificate(self.chain[0])


@dataclass(frozen=True)
class Compat:
    """Named switches between s2n-tls's behaviour and the RFC's."""

    # s2n sends a server signature with a scheme the client did not offer when no
    # offered scheme fits the certificate (RFC 8446 4.4.3 allows it for servers).
    signature_fallback: bool = True
    # s2n answers a fatal error with a warning-level close_notify instead of the
    # specific alert (tls/s2n_alerts.c: against side channels); only protocol_version
    # is sent as itself. RFC 8446 section 6.2 wants the specific alert.
    generic_close_notify: bool = True
    # After a HelloRetryRequest, s2n does not compare the second ClientHello's random,
    # session id and cipher suites with the first (tls/s2n_client_hello.c, for clients
    # that get them wrong); RFC 8446 section 4.1.2 says they must not change.
    lenient_second_client_hello: bool = True
    # s2n drops a ChangeCipherSpec record that arrives after the handshake; RFC 8446
    # section 5 allows dropping one only before the peer's Finished.
    change_cipher_spec_after_handshake: bool = True
    # s2n accepts plaintext records up to 2^16-1 bytes (tls/s2n_record_read.c: "incorrect
    # implementations exist in the wild"); RFC 8446 section 5.1 says record_overflow above 2^14.
    oversized_plaintext_records: bool = True
    # s2n parses a ClientHello leniently (tls/s2n_client_hello.c): bytes after the
    # extensions block are ignored, the compression methods are not checked, repeats of
    # extension types it does not parse are allowed. RFC 8446 sections 4, 4.1.2 and 4.2
    # want decode_error, illegal_parameter and illegal_parameter.
    lenient_client_hello: bool = True

    @classmethod
    def s2n(cls) -> Compat:
        """Behave as s2n-tls does (the default)."""
        return cls()

    @classmethod
    def rfc(cls) -> Compat:
        """Behave as RFC 8446 says, where s2n-tls differs."""
        return cls(
            signature_fallback=False,
            generic_close_notify=False,
            lenient_second_client_hello=False,
            change_cipher_spec_after_handshake=False,
            oversized_plaintext_records=False,
            lenient_client_hello=False,
        )


class RecordSizing:
    """s2n's maximum plaintext per record: default, prefer_throughput, prefer_low_latency."""

    DEFAULT = 8087
    THROUGHPUT = 16384
    LOW_LATENCY = 1435


@dataclass(frozen=True)
class EngineConfig:
    """Everything a connection needs besides its role and randomness."""

    policy: str = "default_tls13"
    certificates: tuple[CertifiedKey, ...] = ()
    trust_anchors: tuple[x509.Certificate, ...] = ()
    verify: bool = True
    verify_host: Callable[[str], bool] | None = None
    alpn: tuple[bytes, ...] = ()
    max_record_plaintext: int = RecordSizing.DEFAULT
    compat: Compat = field(default_factory=Compat.s2n)
