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
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from engine.crypto.signer import KeySigner, Signer
from engine.errors import ConfigurationError
from engine.policies import ClientHelloOffer, UnknownPolicyError
from engine.policies import policy as load_policy
from engine.wire.extensions import ExtensionType

__all__ = ["CertifiedKey", "Compat", "EngineConfig", "MessageLayout", "RecordSizing"]


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate chain (DER, leaf first) and the signer for its key."""

    chain: tuple[bytes, ...]
    signer: Signer

    def __deepcopy__(self, memo: dict[int, object]) -> CertifiedKey:
        # Immutable and part of the config: a copied connection shares it (and its signer's memo).
        return self

    @cached_property
    def leaf(self) -> x509.Certificate:
        """The end-entity certificate (parsed once; negotiation reads it on every handshake)."""
        return x509.load_der_x509_certificate(self.chain[0])

    def check(self) -> None:
        """Refuse, with ``ConfigurationError``, a certificate the engine could never serve.

        The chain must be non-empty and every certificate parse; the leaf key must be
        RSA or ECDSA on P-256, P-384 or P-521 (the keys TLS 1.3 signature schemes exist
        for here); a ``KeySigner`` must hold the leaf's private key. Other signers are
        trusted as given (a test may sign on purpose with something else).
        """
        if not self.chain:
            raise ConfigurationError("a certificate chain needs at least the leaf")
        try:
            for der in self.chain[1:]:
                x509.load_der_x509_certificate(der)
            public_key = self.leaf.public_key()
        except ValueError as error:
            raise ConfigurationError(f"certificate does not parse: {error}") from None
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if public_key.curve.name not in _SIGNING_CURVES:
                raise ConfigurationError(f"no TLS 1.3 signature scheme for an ECDSA key on {public_key.curve.name}")
        elif not isinstance(public_key, rsa.RSAPublicKey):
            raise ConfigurationError(f"no TLS 1.3 signature scheme for a {type(public_key).__name__}")
        if not callable(getattr(self.signer, "sign_digest", None)):
            raise ConfigurationError(f"{type(self.signer).__name__} has no sign_digest")
        if isinstance(self.signer, KeySigner) and _public_der(self.signer.public_key()) != _public_der(public_key):
            raise ConfigurationError("the signer's key is not the certificate's key")


_SIGNING_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})


def _public_der(key: object) -> bytes:
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return b""
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


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
    # that get them wrong) and takes an empty extension for an absent one; it takes any
    # usable key share, not only one for the group it asked for; without supported_versions
    # it stays on TLS 1.3 (if the policy allows the legacy_version) and its ServerHello then
    # lacks supported_versions; without key_share it writes a ServerHello lacking key_share
    # before failing. RFC 8446 sections 4.1.2 and 4.2.8 say none of that may change.
    lenient_second_client_hello: bool = True
    # An s2n client refuses a ChangeCipherSpec record that comes before the ServerHello (or
    # HelloRetryRequest): until it has chosen its TLS 1.3 state machine a CCS must be one its
    # sequence expects (tls/s2n_handshake_io.c, s2n_handshake_read_io). RFC 8446 section 5 drops
    # one received at any time after the first ClientHello was sent. (Before the ClientHello a
    # server refuses it either way.)
    refuse_change_cipher_spec_before_server_hello: bool = True
    # s2n reads a KeyUpdate's first byte and ignores whatever follows it in the message
    # (tls/s2n_key_update.c, s2n_key_update_recv); RFC 8446 wants decode_error for a body
    # that is not exactly one byte. And an s2n server takes a post-handshake message only whole
    # in the record that ends its header (tls/s2n_post_handshake.c:107-129, S2N_ERR_BAD_MESSAGE:
    # it keeps no buffer for more), where RFC 8446 section 5.1 lets a message span records. It checks a
    # post-handshake message's length (64 KiB at most) only once a byte of its body is in
    # (tls/s2n_post_handshake.c:101-102): a record that ends with the header of a longer one leaves it
    # waiting; the RFC reading refuses the header at once (decode_error).
    lenient_key_update: bool = True
    # s2n reads plaintext records over 2^14 bytes (tls/s2n_record_read.c:159-170: "incorrect
    # implementations exist in the wild") up to 17535 bytes: a longer one fails in the null cipher's
    # HMAC update (crypto/s2n_hmac.c:248, S2N_ERR_INTEGER_OVERFLOW) once its whole body is in; no
    # record length is refused on the header. RFC 8446 section 5.1 says record_overflow above 2^14
    # (and above 2^14 + 256 for a protected record, on the header).
    oversized_plaintext_records: bool = True
    # s2n lets a decrypted TLSInnerPlaintext (content, type and padding) run 16 bytes past 2^14 + 1
    # ("Certain versions of Java can generate inner plaintexts with lengths up to
    # S2N_MAXIMUM_INNER_PLAINTEXT_LENGTH + 16", tls/s2n_record_read.c:326-336, S2N_ERR_MAX_INNER_PLAINTEXT_SIZE
    # above that). RFC 8446 section 5.4: it MUST NOT exceed 2^14 + 1 octets (record_overflow here).
    inner_plaintext_slack: bool = True
    # Once the protocol version is established (a client has read the ServerHello or
    # HelloRetryRequest, a server has written its ServerHello: tls/s2n_server_hello.c:273, :340),
    # s2n refuses on the header alone a record whose legacy_record_version is not 0x0303
    # (tls/s2n_record_read.c:155, S2N_ERR_BAD_MESSAGE). RFC 8446 section 5.1: the field MUST be ignored.
    record_version_check: bool = True
    # s2n's record framing (tls/s2n_recv.c:121, tls/s2n_record_read.c): a record whose first byte
    # has the high bit set is an SSLv2 record (2-byte length without that bit, counting from the
    # third byte), read whole before anything else, at any point of the connection; only as the
    # first ClientHello is one allowed, else S2N_ERR_BAD_MESSAGE (tls/s2n_handshake_io.c:1527,
    # s2n_recv.c:225). That one a server parses as s2n (engine/record/sslv2.py; malformed: close_notify)
    # and refuses with protocol_version in a record of its version (at most TLS 1.2, one byte
    # major * 10 + minor split back: tls/s2n_client_hello.c:835, :582, :585-587) when it is below the
    # policy's minimum; at or above it s2n goes on in TLS 1.2 or lower, which the engine does not
    # speak (it refuses the same way; the oracle's unsupported tier). A record of unknown type is
    # refused on its header once the version is established (tls/s2n_record_read.c:123-133), read
    # whole before. The RFC's framing (off) refuses any unknown type on its header
    # (unexpected_message, RFC 8446 section 5).
    s2n_record_framing: bool = True
    # s2n parses a ClientHello leniently (tls/s2n_client_hello.c): bytes after the
    # extensions block are ignored, the compression methods are not checked, repeats of
    # extension types it does not parse are allowed. RFC 8446 sections 4, 4.1.2 and 4.2
    # want decode_error, illegal_parameter and illegal_parameter. Its extensions are read
    # as s2n reads them too: key shares it cannot use (wrong size, not on the curve) are
    # skipped, a repeated group keeps its first usable share, no key_share asks for one
    # (HelloRetryRequest); a malformed supported_versions, or one offering nothing the
    # policy accepts, gets protocol_version in a TLS 1.0 record (s2n forgets the version);
    # without one, a legacy_version below the policy's minimum gets it in a record of that
    # version as s2n holds it, one byte major * 10 + minor split back (0x0001 stays 00 01,
    # 0x7f1c is 01 08; at most 03 03, 00 00 as 03 01: tls/s2n_record_write.c:173-219).
    # Every other extension goes through its s2n receive function
    # (engine/handshake/client_hello_extensions.py, one descriptor per type): malformed
    # server_name, supported_groups, signature_algorithms, ALPN and psk_key_exchange_modes
    # lists are ignored, bytes after a list are ignored, empty lists are read; without
    # supported_groups s2n asks for P-256, without signature_algorithms it falls back;
    # renegotiation_info other than 00, a non-empty extended_master_secret,
    # quic_transport_parameters, early_data without pre_shared_key and a pre_shared_key
    # not last among the types s2n parses are refused. The RFC reading (off) runs every
    # body through its typed codec (decode_error), wants supported_groups,
    # signature_algorithms and key_share (missing_extension, 8446 9.2), one name per type
    # (RFC 6066), pre_shared_key last of all (illegal_parameter, 4.2.11) and an ALPN
    # protocol in common (no_application_protocol, RFC 7301 3.2).
    lenient_client_hello: bool = True
    # s2n's client reads the extensions of ServerHello, HelloRetryRequest,
    # EncryptedExtensions and the leaf's Certificate entry with its receive functions
    # (engine/handshake/server_extensions.py): bytes after what they read are ignored
    # (supported_versions, key_share, cookie), an empty cookie is taken, the ALPN
    # protocol is the first of the list whether offered or not (a bad list length: none),
    # types its list for the message lacks are ignored; a response to nothing requested
    # (pre_shared_key, max_fragment_length, early_data, status_request, SCTs) and
    # quic_transport_parameters are refused. A first ServerHello without supported_versions
    # is read with s2n's TLS 1.2 list (tls/s2n_server_extensions.c:66-79: renegotiation_info,
    # extended_master_secret, unrequested responses refused; key_share unread), then refused
    # on its legacy_version as s2n's TLS 1.2 branch does (tls/s2n_server_hello.c:198-221: the
    # downgrade sentinel before the range, protocol_version). The RFC reading (off) decodes each body with
    # its typed codec and refuses, besides, any extension the ClientHello did not carry
    # (unsupported_extension, 8446 4.2) or the message may not carry (illegal_parameter).
    lenient_server_extensions: bool = True
    # s2n's client ignores whatever follows the last field it reads in a ServerHello or
    # HelloRetryRequest (the extensions block), EncryptedExtensions (its extensions block),
    # Certificate (the certificate list) and CertificateVerify (the signature), and reads fewer
    # than two bytes where an extensions block goes as no extensions; in those blocks (and in each
    # Certificate entry's, tls/s2n_x509_validator.c:618) only the types it parses must not repeat
    # (engine/wire/s2n_server_messages.py; its handlers never check that a message is used up:
    # tls/s2n_handshake_io.c s2n_handshake_message_process). Bytes after a certificate's DER in a
    # Certificate entry are ignored too: up to 3 on the leaf, any number on the others
    # (tls/s2n_x509_validator.c:592-598, crypto/s2n_openssl_x509.c:83-86).
    # RFC 8446 section 4 wants decode_error for trailing bytes and illegal_parameter for any
    # repeated extension (4.2); cert_data is a DER certificate (4.4.2).
    lenient_server_messages: bool = True
    # s2n reads a plaintext alert record during a TLS 1.3 handshake even once keys are in
    # use (tls/s2n_record_read.c, s2n_is_tls13_plaintext_content: a peer that failed before
    # it had keys, e.g. on a certificate, sends its alert in the clear); RFC 8446 section 5.2
    # wants every record after the key change protected (unexpected_message).
    plaintext_alerts_in_handshake: bool = True
    # After the handshake s2n discards a protected record whose inner type is change_cipher_spec,
    # whatever it holds (tls/s2n_recv.c:245-253; only a plaintext one is refused, by s2n_record_parse);
    # RFC 8446 section 5: a protected change_cipher_spec is unexpected_message.
    protected_change_cipher_spec_after_handshake: bool = True
    # After a HelloRetryRequest, s2n's client reads a ServerHello without supported_versions as the
    # TLS 1.3 the HelloRetryRequest selected: the version is kept from it (tls/s2n_server_hello.c:177),
    # the extension's checks run only when it is present (tls/extensions/s2n_server_supported_versions.c:49,
    # 79-81), and the rest of the message is read as any TLS 1.3 ServerHello. RFC 8446 section 4.1.4:
    # the HelloRetryRequest's selected_version MUST be retained in the ServerHello; without the extension
    # it negotiates no TLS 1.3 (4.2.1), which the engine refuses (protocol_version).
    keep_hello_retry_version: bool = True
    # Once the version is established s2n drops a user_canceled alert, whatever its level and at any
    # step, and reads on (tls/s2n_alerts.c:203-218, s2n_process_as_warning); before that it fails on it
    # as on any alert. RFC 8446 section 6.1 makes it a closure alert, after which nothing is read: the
    # engine then takes it as the end of the peer's data (ConnectionClosed), as it takes close_notify.
    ignore_user_canceled: bool = True
    # With no verify_host callback, s2n's client checks the server's certificate against its server name
    # with its default callback (tls/s2n_connection.c:222-252, s2n_default_verify_host) in the callback's
    # walk over the leaf's names (engine/handshake/host_check.py): a DNS or URI SAN, or an iPAddress SAN
    # printed as text, equal to the name but for ASCII case, or "*." and what follows the name's first dot;
    # the CN only when no SAN is a DNS, URI or IP name (never an IP literal); with no name nothing matches.
    # RFC 6125 (off: cryptography's Web PKI matching): a DNS name against DNS SANs only, one left-most
    # wildcard label, an IP address against iPAddress SANs only, never the CN.
    s2n_host_check: bool = True

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
            refuse_change_cipher_spec_before_server_hello=False,
            lenient_key_update=False,
            oversized_plaintext_records=False,
            inner_plaintext_slack=False,
            record_version_check=False,
            s2n_record_framing=False,
            lenient_client_hello=False,
            lenient_server_extensions=False,
            lenient_server_messages=False,
            plaintext_alerts_in_handshake=False,
            protected_change_cipher_spec_after_handshake=False,
            keep_hello_retry_version=False,
            ignore_user_canceled=False,
            s2n_host_check=False,
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
    # Server: the CCS after its first flight's first message always (s2n, outside QUIC:
    # tls/s2n_tls13.c s2n_is_middlebox_compat_enabled), or only when the client sent a session id
    # (what RFC 8446 appendix D.4 requires).
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
    # A client's own host check in place of matching its verify_name: called with the leaf's names as
    # s2n calls its verify_host callback, True accepting one (engine.handshake.host_check).
    verify_host: Callable[[str], bool] | None = None
    alpn: tuple[bytes, ...] = ()
    max_record_plaintext: int = RecordSizing.DEFAULT
    compat: Compat = field(default_factory=Compat.s2n)
    layout: MessageLayout = field(default_factory=MessageLayout)

    def __post_init__(self) -> None:
        """Refuse what would otherwise fail in the middle of a handshake (``ConfigurationError``).

        >>> EngineConfig("no_such_policy")
        Traceback (most recent call last):
        ...
        engine.errors.ConfigurationError: 'no_such_policy' is not an s2n-tls security policy that negotiates TLS 1.3
        """
        try:
            load_policy(self.policy)
        except UnknownPolicyError as error:
            raise ConfigurationError(str(error)) from None
        for certificate in self.certificates:
            certificate.check()
        # RecordLayer.write cuts records of this size: zero would never end, over 2^14 no peer reads.
        if not 1 <= self.max_record_plaintext <= _MAX_PLAINTEXT:
            raise ConfigurationError(f"max_record_plaintext {self.max_record_plaintext} outside [1, {_MAX_PLAINTEXT}]")
        _check_alpn(self.alpn)
        _check_layout(self.layout)

    def __deepcopy__(self, memo: dict[int, object]) -> EngineConfig:
        # Frozen and shared by every connection made from it: a copied connection shares it too
        # (its keys and signers could not be copied anyway).
        return self


_MAX_PLAINTEXT = 1 << 14


def _check_alpn(protocols: tuple[bytes, ...]) -> None:
    """RFC 7301 section 3.1: ``opaque ProtocolName<1..2^8-1>; ProtocolName protocol_name_list<2..2^16-1>``."""
    if any(not 1 <= len(name) <= 0xFF for name in protocols):
        raise ConfigurationError("an ALPN protocol name must be 1 to 255 bytes")
    if sum(len(name) + 1 for name in protocols) > 0xFFFF:
        raise ConfigurationError("the ALPN list does not fit its 2-byte length")


def _check_layout(layout: MessageLayout) -> None:
    """Fixed extension bodies and the HRR cookie must fit their length prefixes (else encoding fails late)."""
    for extension_type, body in (*layout.extension_bodies, *layout.encrypted_extensions):
        if not 0 <= extension_type <= 0xFFFF or len(body) > 0xFFFF:
            raise ConfigurationError(f"extension {extension_type} with {len(body)} bytes cannot be encoded")
    if len(layout.hello_retry_cookie) > 0xFFFF - 2:
        raise ConfigurationError("the HelloRetryRequest cookie does not fit its extension")
