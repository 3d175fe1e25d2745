"""Read what a ClientHello offers, checking what TLS 1.3 requires of it.

``read_offer`` turns a decoded ClientHello into a ``ClientOffer``: the lists the
server negotiates over, with every malformed or forbidden field rejected with the
alert RFC 8446 names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

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

__all__ = ["TLS13", "ClientOffer", "decode_optional", "read_offer"]

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


def read_offer(hello: ClientHello, *, lenient: bool = False) -> ClientOffer:
    """Check a ClientHello for TLS 1.3 and extract what the server negotiates over.

    ``lenient`` (``Compat.lenient_client_hello``) leaves the compression methods unchecked, as s2n does.
    """
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
    return ClientOffer(
        hello=hello,
        cipher_suites=hello.cipher_suites,
        groups=groups.named_group_list,
        shares=_shares(hello),
        signature_schemes=schemes.supported_signature_algorithms,
        server_name=server_name,
        alpn=alpn.protocol_name_list if alpn is not None else (),
    )
