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
from engine.policies import ClientHelloOffer
from engine.wire.extensions import ExtensionType

__all__ = ["CertifiedKey", "Compat", "EngineConfig", "MessageLayout", "RecordSizing"]


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
class MessageLayout:
    """How the engine lays out its messages where s2n's layout is one choice of several.

    The defaults are s2n's. Other layouts let the engine speak as another peer does, e.g.
    the client and server of RFC 8448's traces (tests/engine/test_rfc8448_handshake.py).
    """

    # Client: the ClientHello's suites, extension order and lists (None: s2n's, from the
    # policy). COOKIE and PADDING in the order say where those go when they are sent.
    client_hello: ClientHelloOffer | None = None
    # Client: fixed bodies for extensions the engine does not build itself (type, body).
    extension_bodies: tuple[tuple[int, bytes], ...] = ()
    # Client: a 32-byte legacy_session_id and middlebox-compatibility CCS (s2n always), or neither.
    middlebox_compatibility: bool = True
    # Client: pad a ClientHello of 256 to 511 bytes to 512 with the padding extension (RFC 7685).
    pad_client_hello: bool = False
    # Server: extension order of ServerHello and HelloRetryRequest; a cookie to send in the latter.
    server_hello_extensions: tuple[int, ...] = (ExtensionType.SUPPORTED_VERSIONS, ExtensionType.KEY_SHARE)
    hello_retry_extensions: tuple[int, ...] = (ExtensionType.SUPPORTED_VERSIONS, ExtensionType.KEY_SHARE)
    hello_retry_cookie: bytes = b""
    # Server: fixed EncryptedExtensions entries (type, body), sent before server_name and ALPN.
    encrypted_extensions: tuple[tuple[int, bytes], ...] = ()
    # Server: EncryptedExtensions to Finished in one record (s2n writes a record per message).
    coalesce_server_flight: bool = False


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
    layout: MessageLayout = field(default_factory=MessageLayout)
