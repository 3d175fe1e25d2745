"""A client's own host check: ``EngineConfig.verify_host``, called as s2n-tls calls its verify_host callback.

With a callback set (``s2n_config_set_verify_host_callback``), s2n asks it about the
leaf's names before it builds the path (tls/s2n_x509_validator.c:645-646,
``s2n_verify_host_information``, :383-422), in this order:

1. the subjectAltName entries, in the certificate's order: each DNS and URI name as
   written, each iPAddress printed as RFC 5952 text (``s2n_inet_ntop``,
   utils/s2n_rfc5952.c); the first name the callback accepts ends the check; any other
   entry type fails that entry (:229-279);
2. only when no entry was a DNS, URI or iPAddress name: the last commonName of the
   subject, if it is one of X.520's string types, 1 to 254 bytes, and does not parse
   as an IP address (:313-377);
3. with neither: the empty string (:414-419).

When no name is accepted, the check fails as the last name tried failed (:303-306).
The path is then validated with no name (``certificates.verify_chain`` with
``server_name=None``): the callback is the whole host check, as it is in s2n.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

from engine.errors import CertificateUnknownError, InternalError, TLSError

__all__ = ["VerifyHost", "check_host", "default_verify_host", "rfc5952"]

VerifyHost = Callable[[str], bool]
"""Whether a name the server's certificate carries is acceptable (s2n's ``s2n_verify_host_fn``)."""

_MAX_COMMON_NAME = 254  # s2n copies the CN into a 255-byte buffer with its NUL (tls/s2n_x509_validator.c:364-368)
# X520CommonName's string types (RFC 5280 appendix A.1), as s2n lists them (tls/s2n_x509_validator.c:345-350),
# by ASN.1 tag, with the codec that gives back each one's bytes from the text cryptography decoded.
_COMMON_NAME_CODECS = {20: "latin-1", 19: "latin-1", 28: "utf-32-be", 12: "utf-8", 30: "utf-16-be"}


def check_host(leaf: x509.Certificate, verify_host: VerifyHost) -> None:
    """Ask ``verify_host`` about the leaf's names as s2n does (see the module docstring)."""
    entries = _san_entries(leaf)
    if any(entry is not None for entry in entries):
        _first_accepted(entries, verify_host)
        return
    attributes = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    codec = _COMMON_NAME_CODECS.get(_string_tag(attributes[-1])) if attributes else None
    if codec is not None:
        _check_common_name(str(attributes[-1].value), codec, verify_host)
        return
    _ask(verify_host, "")


def default_verify_host(server_name: str) -> VerifyHost:
    """s2n's callback when none is set (tls/s2n_connection.c:222-252, ``s2n_default_verify_host``).

    A name matches ``server_name`` when equal to it but for ASCII case, or when it is ``*.``
    followed by what follows the server name's first dot (one label of wildcard). No server
    name matches nothing.

    >>> matches = default_verify_host("www.Example.test")
    >>> matches("WWW.example.TEST"), matches("*.example.test"), matches("*.test"), matches("example.test")
    (True, True, False, False)
    """
    wanted = _ascii_folded(server_name)
    _, dot, rest = wanted.partition(b".")
    suffix = dot + rest

    def verify_host(name: str) -> bool:
        folded = _ascii_folded(name)
        if not wanted:
            return False
        if folded == wanted:
            return True
        return len(folded) > 2 and folded.startswith(b"*.") and bool(suffix) and folded[1:] == suffix

    return verify_host


def _ascii_folded(name: str) -> bytes:
    """``name``'s bytes with ASCII letters lowered, as ``strncasecmp`` compares them."""
    return name.encode("utf-8", "surrogateescape").lower()


def _string_tag(attribute: x509.NameAttribute[str | bytes]) -> int:
    """The attribute value's ASN.1 string type (0: unknown): cryptography keeps it only as ``_type``."""
    tag = getattr(getattr(attribute, "_type", None), "value", 0)
    return tag if isinstance(tag, int) else 0


@functools.lru_cache(maxsize=64)  # by DER: a client checks the same leaf handshake after handshake
def _san_entries(leaf: x509.Certificate) -> tuple[str | None, ...]:
    """The subjectAltName entries as the callback would see them; None for an entry of another type.

    A missing or unparsable extension is no entry at all (``X509_get_ext_d2i`` returns NULL).
    """
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    entries: list[str | None] = []
    for name in names:
        if isinstance(name, x509.DNSName | x509.UniformResourceIdentifier):
            entries.append(name.value)
        elif isinstance(name, x509.IPAddress) and isinstance(name.value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            entries.append(rfc5952(name.value.packed))
        else:
            entries.append(None)
    return tuple(entries)


def _first_accepted(entries: Sequence[str | None], verify_host: VerifyHost) -> None:
    """Return at the first entry the callback accepts; else raise what the last one raised."""
    failure: TLSError = CertificateUnknownError("no subjectAltName entry")
    for entry in entries:
        try:
            if entry is None:  # S2N_ERR_CERT_UNTRUSTED: an entry type s2n does not read
                raise CertificateUnknownError("a subjectAltName entry that is no DNS, URI or IP name")
            if not entry:  # RESULT_ENSURE_GT(name_len, 0): S2N_ERR_SAFETY
                raise InternalError("an empty subjectAltName name")
            _ask(verify_host, entry)
            return
        except TLSError as error:
            failure = error
    raise failure


def _check_common_name(name: str, codec: str, verify_host: VerifyHost) -> None:
    size = len(name.encode(codec, "surrogateescape" if codec == "utf-8" else "strict"))
    if not 0 < size <= _MAX_COMMON_NAME:  # RESULT_ENSURE_GT / RESULT_ENSURE_LTE: S2N_ERR_SAFETY
        raise InternalError(f"a commonName of {size} bytes")
    if _is_ip_literal(name):  # RFC 6125 section 6.2.1: an IP is matched against iPAddress SANs only
        raise CertificateUnknownError("the commonName is an IP address")
    _ask(verify_host, name)


def _is_ip_literal(name: str) -> bool:
    """Whether ``inet_pton`` reads ``name`` as an IPv4 or IPv6 address (no zone index: inet_pton has none)."""
    if "%" in name:
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _ask(verify_host: VerifyHost, name: str) -> None:
    # What the callback raises is the caller's bug, and goes up to it as it is: the handshake does not complete.
    if not verify_host(name):  # S2N_ERR_CERT_INVALID_HOSTNAME
        raise CertificateUnknownError(f"verify_host refused {name!r}")


def rfc5952(packed: bytes) -> str:
    """An IP address as ``s2n_inet_ntop`` prints it: dotted decimal, or RFC 5952 section 4 hex.

    The first longest run of two or more zero groups becomes ``::``; there is no dotted
    IPv4 tail (``::ffff:102:304``, where ``inet_ntop`` would write ``::ffff:1.2.3.4``).

    >>> rfc5952(bytes([127, 0, 0, 1])), rfc5952(bytes(15) + b"\\x01"), rfc5952(bytes.fromhex("20010db8" + "00" * 12))
    ('127.0.0.1', '::1', '2001:db8::')
    """
    if len(packed) == 4:
        return ".".join(str(byte) for byte in packed)
    groups = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    start, length, run = 0, 0, 0
    for index, group in enumerate(groups):
        run = run + 1 if group == 0 else 0
        if run > length:
            start, length = index - run + 1, run
    text = [format(group, "x") for group in groups]
    if length < 2:
        return ":".join(text)
    return ":".join(text[:start]) + "::" + ":".join(text[start + length :])
