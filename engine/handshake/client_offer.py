"""Read what a ClientHello offers, checking what TLS 1.3 requires of it.

``read_offer`` turns a decoded ClientHello into a ``ClientOffer``: the lists the server
negotiates over. Each extension is read by its descriptor
(``engine.handshake.client_hello_extensions``): under ``Compat.lenient_client_hello`` as
s2n-tls's server reads it (its receive function's leniency: malformed bodies ignored or
refused as s2n does, key shares it cannot use skipped, no key_share meaning "ask for
one"), otherwise with the typed codecs and the alerts RFC 8446 names.
``read_versions_as_s2n`` says what s2n makes of supported_versions, and
``check_extensions_before_version`` what s2n refuses before it refuses a ClientHello
without supported_versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from engine.config import EngineConfig
from engine.errors import IllegalParameterError
from engine.handshake.client_hello_extensions import TLS13, OfferContext, receive_client_hello_extensions
from engine.policies import SecurityPolicy
from engine.wire.extensions import Extension, ExtensionType, find_extension
from engine.wire.handshake import ClientHello
from engine.wire.s2n_bodies import s2n_supported_versions

__all__ = [
    "TLS13",
    "ClientOffer",
    "OfferContext",
    "S2nVersions",
    "check_extensions_before_version",
    "decode_optional",
    "offer_context",
    "read_offer",
    "read_versions_as_s2n",
    "s2n_version",
]


@dataclass(frozen=True)
class ClientOffer:
    """The parts of a ClientHello negotiation looks at.

    ``groups`` are the client's supported_groups; when s2n has none to read (absent, or
    ignored as malformed) it keeps its default curve (``OfferContext.default_group``)
    and can use no key share, so ``groups`` is that curve alone and ``shares`` is empty.
    ``server_name`` is the host name's bytes as text (UTF-8, undecodable bytes kept as
    surrogates); ``alpn`` the client's protocols, or (s2n) the one s2n selected.
    """

    hello: ClientHello
    cipher_suites: tuple[int, ...]
    groups: tuple[int, ...]
    shares: dict[int, bytes]
    signature_schemes: tuple[int, ...]
    server_name: str | None
    alpn: tuple[bytes, ...]
    # Whether the key_share extension was there, and how many entries it had (usable or not).
    key_share_present: bool = True
    key_share_entries: int = 0


_Body_co = TypeVar("_Body_co", covariant=True)


class _Decoder(Protocol[_Body_co]):
    def decode(self, data: bytes | memoryview, /) -> _Body_co: ...


def decode_optional(extensions: tuple[Extension, ...], kind: int, decoder: _Decoder[_Body_co]) -> _Body_co | None:
    """Decode the extension ``kind`` if present."""
    extension = find_extension(extensions, kind)
    return None if extension is None else decoder.decode(extension.data)


def offer_context(config: EngineConfig, policy: SecurityPolicy, *, retry: bool) -> OfferContext:
    """What a server with ``config`` under ``policy`` brings to reading a (first or second) ClientHello."""
    return OfferContext.for_policy(
        policy.minimum_version, policy.groups, config.alpn, retry=retry, cookie=config.layout.hello_retry_cookie
    )


def read_offer(hello: ClientHello, *, lenient: bool = False, context: OfferContext | None = None) -> ClientOffer:
    """Check a ClientHello for TLS 1.3 and extract what the server negotiates over.

    ``lenient`` (``Compat.lenient_client_hello``) reads as s2n does: every extension by
    its s2n receive function, the compression methods unchecked; supported_versions is
    the caller's to answer first (``read_versions_as_s2n`` needs the policy). ``context``
    is what the server brings (policy minimum and default curve, its ALPN list, whether
    this follows a HelloRetryRequest).
    """
    context = context or OfferContext()
    received = receive_client_hello_extensions(hello, context, lenient=lenient)
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
    # = type=implementation
    ## For every TLS 1.3 ClientHello, this vector MUST contain exactly one byte, set to zero, which corresponds
    ## to the "null" compression method in prior versions of TLS.
    if not lenient and hello.legacy_compression_methods != b"\x00":
        raise IllegalParameterError("TLS 1.3 requires exactly the null compression method")
    groups, shares = received.groups, received.shares
    if groups is None:  # s2n only: the default curve stays, no share matches it (s2n_client_key_share_recv_ecc)
        groups, shares = (context.default_group,), {}
    name = received.server_name
    return ClientOffer(
        hello=hello,
        cipher_suites=hello.cipher_suites,
        groups=groups,
        shares=shares,
        signature_schemes=received.signature_schemes or (),
        server_name=None if name is None else name.decode("utf-8", "surrogateescape"),
        alpn=received.alpn,
        key_share_present=received.key_share_present,
        key_share_entries=received.key_share_entries,
    )


def check_extensions_before_version(hello: ClientHello, context: OfferContext) -> None:
    """What s2n's server refuses in a ClientHello without supported_versions before it refuses the version.

    ``s2n_process_client_hello`` (tls/s2n_client_hello.c) processes every extension while
    ``actual_protocol_version`` is still unknown, so those with a TLS 1.3 minimum (key_share,
    psk_key_exchange_modes, pre_shared_key, quic_transport_parameters) are skipped and the
    others may fail (a bad renegotiation_info, a cookie, early_data without a PSK, ...);
    only then does it compare the legacy version with the policy. A failure here is written
    in a TLS 1.0 record: no version is known yet.
    """
    receive_client_hello_extensions(hello, context, lenient=True, tls13=False)


def s2n_version(wire_version: int) -> int:
    """A wire version as s2n numbers it (``major * 10 + minor`` in a uint8): 0x0303 is 33 (S2N_TLS12).

    >>> s2n_version(0x0304), s2n_version(0x0301)
    (34, 31)
    """
    return ((wire_version >> 8) * 10 + (wire_version & 0xFF)) & 0xFF


@dataclass(frozen=True)
class S2nVersions:
    """What s2n's server makes of a ClientHello's supported_versions (tls/extensions/s2n_client_supported_versions.c).

    ``selected`` is ``actual_protocol_version``: the highest version offered within the
    policy's minimum and TLS 1.3, or None when the extension is absent, malformed (a list
    length that is odd or not the rest of the body) or offers none of them. Versions are
    wire values (0x0304).
    """

    present: bool
    selected: int | None


def read_versions_as_s2n(hello: ClientHello, minimum_version: int) -> S2nVersions:
    """``s2n_extensions_client_supported_versions_process``: only 3.x with x <= 4 count, the highest acceptable wins."""
    extension = find_extension(hello.extensions, ExtensionType.SUPPORTED_VERSIONS)
    if extension is None:
        return S2nVersions(present=False, selected=None)
    return S2nVersions(present=True, selected=s2n_supported_versions(extension.data, minimum_version))
