"""Read what a ClientHello offers, checking what TLS 1.3 requires of it.

``read_offer`` turns a decoded ClientHello into a ``ClientOffer``: the lists the
server negotiates over, with every malformed or forbidden field rejected with the
alert RFC 8446 names. Under ``Compat.lenient_client_hello`` key shares are read as
s2n-tls reads them (unusable ones ignored, no key_share meaning "ask for one"), and
``read_versions_as_s2n`` says what s2n makes of supported_versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from engine.crypto.key_exchange import usable_key_share
from engine.errors import DecodeError, IllegalParameterError, MissingExtensionError, ProtocolVersionError
from engine.wire.extensions import (
    Extension,
    ExtensionType,
    KeyShareClientHello,
    ProtocolNameList,
    ServerNameList,
    SignatureSchemeList,
    SupportedGroups,
    SupportedVersionsClient,
    find_extension,
)
from engine.wire.handshake import ClientHello
from engine.wire.reader import Reader

__all__ = [
    "TLS13",
    "ClientOffer",
    "S2nVersions",
    "decode_optional",
    "read_offer",
    "read_versions_as_s2n",
    "s2n_version",
]

TLS13 = 0x0304


@dataclass(frozen=True)
class ClientOffer:
    """The parts of a ClientHello negotiation looks at."""

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


def _check_versions(hello: ClientHello, *, lenient: bool) -> None:
    versions = decode_optional(hello.extensions, ExtensionType.SUPPORTED_VERSIONS, SupportedVersionsClient)
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.1
    # = type=implementation
    ## If this extension is present in the ClientHello, servers MUST NOT use the ClientHello.legacy_version
    ## value for version negotiation and MUST use only the "supported_versions" extension to determine client
    ## preferences.
    if versions is None or TLS13 not in versions.versions:
        raise ProtocolVersionError("the client does not offer TLS 1.3")
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
    # = type=implementation
    ## For every TLS 1.3 ClientHello, this vector MUST contain exactly one byte, set to zero, which corresponds
    ## to the "null" compression method in prior versions of TLS.
    if not lenient and hello.legacy_compression_methods != b"\x00":
        raise IllegalParameterError("TLS 1.3 requires exactly the null compression method")


def _shares(hello: ClientHello) -> dict[int, bytes]:
    key_share = decode_optional(hello.extensions, ExtensionType.KEY_SHARE, KeyShareClientHello)
    if key_share is None:
        raise MissingExtensionError("ClientHello has no key_share")
    shares: dict[int, bytes] = {}
    for entry in key_share.client_shares:
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2.8
        # = type=implementation
        ## Clients MUST NOT offer multiple KeyShareEntry values for the same group.
        if entry.group in shares:
            raise IllegalParameterError("two key shares for one group")
        shares[entry.group] = entry.key_exchange
    return shares


def _shares_as_s2n(hello: ClientHello) -> tuple[dict[int, bytes], int, bool]:
    """``s2n_client_key_share_recv``: the usable shares (first of each group), the entry count, and presence.

    The list's framing is checked (``S2N_ERR_BAD_MESSAGE``, ``S2N_ERR_STUFFER_OUT_OF_DATA``);
    a share s2n cannot use is skipped (``usable_key_share``); a repeated group keeps its
    first usable share. Without the extension s2n asks for a share (HelloRetryRequest).
    """
    extension = find_extension(hello.extensions, ExtensionType.KEY_SHARE)
    if extension is None:
        return {}, 0, False
    reader = Reader(extension.data)
    entries = reader.sub_reader(2)
    reader.expect_end()
    shares: dict[int, bytes] = {}
    count = 0
    while entries.remaining:
        group = entries.uint(2)
        key_exchange = bytes(entries.vector(2))
        count += 1
        usable = None if group in shares else usable_key_share(group, key_exchange)
        if usable is not None:
            shares[group] = usable
    return shares, count, True


def read_offer(hello: ClientHello, *, lenient: bool = False) -> ClientOffer:
    """Check a ClientHello for TLS 1.3 and extract what the server negotiates over.

    ``lenient`` (``Compat.lenient_client_hello``) reads as s2n does: the compression
    methods are not checked, key shares are read by ``_shares_as_s2n``, and
    supported_versions is left to the caller (``read_versions_as_s2n`` needs the policy).
    """
    if not lenient:
        _check_versions(hello, lenient=lenient)
    groups = decode_optional(hello.extensions, ExtensionType.SUPPORTED_GROUPS, SupportedGroups)
    schemes = decode_optional(hello.extensions, ExtensionType.SIGNATURE_ALGORITHMS, SignatureSchemeList)
    if groups is None or schemes is None:
        raise MissingExtensionError("ClientHello lacks supported_groups or signature_algorithms")
    names = decode_optional(hello.extensions, ExtensionType.SERVER_NAME, ServerNameList)
    alpn = decode_optional(hello.extensions, ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION, ProtocolNameList)
    server_name = None
    if names is not None and names.host_name is not None:
        try:
            server_name = names.host_name.decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError("server name is not ASCII") from None
    if lenient:
        shares, entries, present = _shares_as_s2n(hello)
    else:
        shares = _shares(hello)
        entries, present = len(shares), True
    return ClientOffer(
        hello=hello,
        cipher_suites=hello.cipher_suites,
        groups=groups.named_group_list,
        shares=shares,
        signature_schemes=schemes.supported_signature_algorithms,
        server_name=server_name,
        alpn=alpn.protocol_name_list if alpn is not None else (),
        key_share_present=present,
        key_share_entries=entries,
    )


def s2n_version(wire_version: int) -> int:
    """A wire version as s2n numbers it (``major * 10 + minor`` in a uint8): 0x0303 is 33 (S2N_TLS12).

    >>> s2n_version(0x0304), s2n_version(0x0301)
    (34, 31)
    """
    return ((wire_version >> 8) * 10 + (wire_version & 0xFF)) & 0xFF


_S2N_TLS13 = 34


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
    reader = Reader(extension.data)
    if reader.remaining < 1:
        return S2nVersions(present=True, selected=None)
    size = reader.uint(1)
    if size != reader.remaining or size % 2:
        return S2nVersions(present=True, selected=None)
    selected: int | None = None
    minimum = s2n_version(minimum_version)
    while reader.remaining:
        major, minor = reader.uint(1), reader.uint(1)
        version = major * 10 + minor
        if major == 3 and minor <= 4 and minimum <= version <= _S2N_TLS13:
            selected = max(selected or 0, version)
    return S2nVersions(present=True, selected=None if selected is None else 0x0300 + selected - 30)
