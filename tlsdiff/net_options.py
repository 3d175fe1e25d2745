"""The flags of ``tlsdiff client`` and ``tlsdiff server``, checked once into frozen options.

The flags follow ``openssl s_client``/``s_server`` where that makes sense (``--cert``,
``--key``, ``--CAfile``, ``--servername``, ``--keylog``, ``--www``). What argparse
cannot check (a trust choice, a server name that cannot be sent, files that must be
read) is checked here and refused with ``UsageError``: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engine.config import CertifiedKey, RecordSizing
from engine.crypto.signer import KeySigner
from engine.errors import ConfigurationError
from engine.keylog import KeyLogFile, key_log_from_env
from engine.pem import load_certified_key, load_trust_anchors
from tlsdiff.certs import certificate_for
from tlsdiff.net_session import UsageError

__all__ = [
    "DEFAULT_TIMEOUT",
    "Address",
    "ClientOptions",
    "Identity",
    "ServerOptions",
    "TLSOptions",
    "Trust",
    "add_client_arguments",
    "add_server_arguments",
    "client_options",
    "is_ip_address",
    "load_identity",
    "load_key_log",
    "load_trust",
    "parse_address",
    "same_address",
    "server_options",
]

DEFAULT_TIMEOUT = 10.0
_DEFAULT_POLICY = "default_tls13"
_DEFAULT_LISTEN_HOST = "127.0.0.1"  # the test certificate's key is public: never listen wider unless asked
_TEST_CERT_TYPE = "ecdsa-p256"
_MAX_ALPN_NAME = 255
_MAX_SERVER_NAME = 255  # s2n's S2N_MAX_SERVER_NAME; the engine refuses longer too
_MAX_PORT = 65535
_S2N_RECORD_SIZES = (RecordSizing.LOW_LATENCY, RecordSizing.DEFAULT, RecordSizing.THROUGHPUT)


@dataclass(frozen=True)
class Address:
    """A host and a TCP port; an IPv6 host prints in brackets."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class TLSOptions:
    """What both commands configure the same way."""

    implementation: str
    policy: str
    alpn: tuple[str, ...]
    max_record: int | None
    timeout: float
    key_log: Path | None
    quiet: bool


@dataclass(frozen=True)
class ClientOptions:
    """``tlsdiff client``: where to connect and how to judge the server."""

    address: Address
    tls: TLSOptions
    ca_file: Path | None
    server_name: str | None  # the SNI sent: --servername, else the host when it is a name

    @property
    def verify_name(self) -> str:
        """The name the server's certificate must carry: the SNI, or the IP address connected to."""
        return self.server_name if self.server_name is not None else self.address.host


@dataclass(frozen=True)
class ServerOptions:
    """``tlsdiff server``: where to listen, what to present, how to answer."""

    address: Address
    tls: TLSOptions
    cert: Path | None
    key: Path | None
    www: bool
    once: bool


@dataclass(frozen=True)
class Identity:
    """A server's certificate chain and the signer for its key (both implementations sign with it)."""

    certified_key: CertifiedKey

    @property
    def chain_pem(self) -> bytes:
        """The chain as PEM, leaf first (what s2n loads)."""
        return b"".join(
            x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM) for der in self.certified_key.chain
        )


@dataclass(frozen=True)
class Trust:
    """What a client trusts: the CA file's certificates (PEM for s2n, parsed for the engine), or nothing
    when it does not verify."""

    pem: bytes | None = None
    anchors: tuple[x509.Certificate, ...] = ()

    @property
    def verify(self) -> bool:
        """Whether the peer's certificate is checked."""
        return self.pem is not None


# ---- argument types ----


def parse_address(text: str, *, default_host: str | None = None) -> Address:
    """``HOST:PORT``, ``[IPV6]:PORT``, or ``PORT`` alone when a default host is given.

    >>> parse_address("example.test:443"), str(parse_address("[::1]:8443"))
    (Address(host='example.test', port=443), '[::1]:8443')
    >>> parse_address("4433", default_host="127.0.0.1")
    Address(host='127.0.0.1', port=4433)
    """
    host, separator, port_text = text.rpartition(":")
    if not separator:
        if default_host is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
        host, port_text = default_host, text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise argparse.ArgumentTypeError(f"{text!r}: write an IPv6 address in brackets, [ADDRESS]:PORT")
    if not host:
        raise argparse.ArgumentTypeError(f"{text!r} has no host")
    if not port_text.isdigit() or int(port_text) > _MAX_PORT:
        raise argparse.ArgumentTypeError(f"{port_text!r} is not a TCP port (0 to {_MAX_PORT})")
    return Address(host, int(port_text))


def _server_address(text: str) -> Address:
    return parse_address(text, default_host=_DEFAULT_LISTEN_HOST)


def _alpn_list(text: str) -> tuple[str, ...]:
    names = tuple(name for name in text.split(",") if name)
    for name in names:
        if not name.isascii() or len(name) > _MAX_ALPN_NAME:
            raise argparse.ArgumentTypeError(f"ALPN protocol {name!r} is not 1 to {_MAX_ALPN_NAME} ASCII characters")
    if not names:
        raise argparse.ArgumentTypeError("give at least one protocol, e.g. --alpn h2,http/1.1")
    return names


def _record_size(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= RecordSizing.THROUGHPUT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a record size from 1 to {RecordSizing.THROUGHPUT}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: give a timeout between 0 and 86400 seconds")
    return value


def _add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--implementation", choices=("engine", "s2n"), default="engine", help="the Python engine or C s2n-tls"
    )
    parser.add_argument("--policy", default=_DEFAULT_POLICY, help=f"s2n security policy (default {_DEFAULT_POLICY})")
    parser.add_argument(
        "--alpn", type=_alpn_list, default=(), metavar="A,B", help="ALPN protocols, most preferred first"
    )
    parser.add_argument(
        "--keylog",
        type=Path,
        metavar="FILE",
        help="append NSS key-log lines (secrets!) to FILE (default $SSLKEYLOGFILE)",
    )
    parser.add_argument(
        "--max-record",
        type=_record_size,
        metavar="N",
        help=f"most plaintext bytes per record (default {RecordSizing.DEFAULT}; s2n: "
        f"{RecordSizing.LOW_LATENCY}, {RecordSizing.DEFAULT} or {RecordSizing.THROUGHPUT})",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"bound on connecting, the handshake and each wait for a silent peer (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--quiet", action="store_true", help="no handshake trace (errors are still printed)")


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``tlsdiff client``."""
    parser.add_argument("address", type=parse_address, metavar="HOST:PORT", help="where to connect")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--CAfile", dest="ca_file", type=Path, metavar="FILE", help="PEM trust anchors to verify with")
    trust.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    parser.add_argument("--servername", metavar="NAME", help="SNI and the name to verify (default: HOST if a name)")
    _add_tls_arguments(parser)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``tlsdiff server``."""
    parser.add_argument(
        "address",
        type=_server_address,
        metavar="[HOST:]PORT",
        help=f"where to listen (default host {_DEFAULT_LISTEN_HOST})",
    )
    parser.add_argument("--cert", type=Path, metavar="FILE", help="PEM certificate chain, leaf first")
    parser.add_argument("--key", type=Path, metavar="FILE", help="PEM private key of the leaf")
    parser.add_argument("--www", action="store_true", help="answer each HTTP request with a status page")
    parser.add_argument("--once", action="store_true", help="serve one connection, then exit with its status")
    _add_tls_arguments(parser)


# ---- from flags to options ----


def _tls_options(args: argparse.Namespace) -> TLSOptions:
    if args.implementation == "s2n" and args.max_record not in (None, *_S2N_RECORD_SIZES):
        sizes = ", ".join(str(size) for size in _S2N_RECORD_SIZES)
        raise UsageError(f"s2n sizes records only as {sizes} (--max-record {args.max_record})")
    return TLSOptions(
        args.implementation, args.policy, args.alpn, args.max_record, args.timeout, args.keylog, args.quiet
    )


def is_ip_address(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address literal rather than a name.

    >>> is_ip_address("127.0.0.1"), is_ip_address("::1"), is_ip_address("localhost")
    (True, True, False)
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def same_address(name: str, host: str) -> bool:
    """Whether two IP address literals name the same address (s2n writes an IPv6 SAN compressed).

    >>> same_address("::1", "0:0:0:0:0:0:0:1"), same_address("localhost", "127.0.0.1")
    (True, False)
    """
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(host)
    except ValueError:
        return False


def client_options(args: argparse.Namespace) -> ClientOptions:
    """The client's options; ``UsageError`` when no trust choice was made or the server name cannot be sent."""
    if args.ca_file is None and not args.insecure:
        raise UsageError(
            "give --CAfile FILE to verify the server, or --insecure not to (there is no system trust store)"
        )
    address: Address = args.address
    server_name: str | None = args.servername
    if server_name is None and not is_ip_address(address.host):
        server_name = address.host  # RFC 6066 section 3: an IP address is never sent as SNI
    if server_name is not None and not (server_name.isascii() and 1 <= len(server_name) <= _MAX_SERVER_NAME):
        raise UsageError(f"server name {server_name!r} is not 1 to {_MAX_SERVER_NAME} ASCII characters")
    return ClientOptions(address, _tls_options(args), args.ca_file, server_name)


def server_options(args: argparse.Namespace) -> ServerOptions:
    """The server's options; ``UsageError`` when only one of ``--cert`` and ``--key`` is given."""
    if (args.cert is None) != (args.key is None):
        raise UsageError("give both --cert FILE and --key FILE, or neither (the test certificate)")
    return ServerOptions(args.address, _tls_options(args), args.cert, args.key, args.www, args.once)


# ---- files ----


def load_trust(options: ClientOptions) -> Trust:
    """The CA file's certificates, or no trust at all with ``--insecure``."""
    if options.ca_file is None:
        return Trust()
    try:
        anchors = tuple(load_trust_anchors(options.ca_file))
    except ConfigurationError as error:
        raise UsageError(str(error)) from None
    # s2n reads the same certificates as PEM; a directory is read as the engine read it.
    pem = b"".join(anchor.public_bytes(Encoding.PEM) for anchor in anchors)
    return Trust(pem, anchors)


def load_identity(options: ServerOptions, note: Callable[[str], None]) -> Identity:
    """The server's certificate and key from ``--cert``/``--key``, else the deterministic test certificate
    (``note`` says so: its private key is public)."""
    if options.cert is None or options.key is None:
        return _test_identity(note)
    try:
        certified = load_certified_key(options.cert, options.key)
    except ConfigurationError as error:
        raise UsageError(str(error)) from None
    return Identity(certified)


def _test_identity(note: Callable[[str], None]) -> Identity:
    bundle = certificate_for(_TEST_CERT_TYPE)
    leaf = x509.load_pem_x509_certificate(bundle.chain_pem).public_bytes(Encoding.DER)
    note(
        f"no --cert/--key: serving the deterministic {_TEST_CERT_TYPE} test certificate for "
        f"{bundle.server_name!r} (its key is public: for tests only)"
    )
    certified = CertifiedKey((leaf,), KeySigner(bundle.private_key))
    return Identity(certified)


def load_key_log(options: TLSOptions) -> KeyLogFile | None:
    """The key-log sink: ``--keylog FILE``, else ``$SSLKEYLOGFILE`` if set, else none (the caller closes it)."""
    try:
        return KeyLogFile(options.key_log) if options.key_log is not None else key_log_from_env()
    except ConfigurationError as error:
        raise UsageError(str(error)) from None
