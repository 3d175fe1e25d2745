#!/usr/bin/env python3
"""Capture real ClientHellos from independent TLS clients over loopback, for the seed corpus.

Clients: ``openssl s_client`` (Debian openssl), ``gnutls-cli`` (Debian gnutls-bin) and
Python's ``ssl`` module, each under several option sets (versions, groups, signature
algorithms, cipher suites, SNI, ALPN). For each one a plain TCP socket listens on an
ephemeral port of 127.0.0.1, accepts one connection, reads records until one whole
ClientHello handshake message is there, and closes; no TLS server ever answers, so
nothing but the ClientHello is exchanged. Every wait is bounded.

Two files per capture in OUT_DIR: ``NAME.bin``, the handshake message body (the input
the ``client_hello_parse`` target takes), and ``NAME.records``, the TLS records as
they arrived (record headers included). One line per capture is printed (``--json``:
one JSON object per line). The exit status is 1 if any capture failed, a missing
client program included.

Usage: ci/capture_client_hellos.py OUT_DIR [--json] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CLIENT_KINDS", "Capture", "ClientSpec", "capture", "capture_all", "client_specs", "main"]

_LOOPBACK = "127.0.0.1"
_RECORD_HEADER = 5
_HANDSHAKE = 22
_CLIENT_HELLO = 1
_MAX_HELLO = 1 << 17  # far beyond any real ClientHello: stop reading a peer that never ends one
CLIENT_KINDS = ("openssl", "gnutls", "python-ssl")


@dataclass(frozen=True)
class ClientSpec:
    """One client configuration: a program's arguments (``{port}`` filled in), or Python ``ssl`` settings."""

    name: str
    kind: str
    arguments: tuple[str, ...] = ()
    python_options: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """The command line, or the ``ssl`` settings, as one string."""
        if self.kind == "python-ssl":
            return "ssl " + " ".join(f"{key}={value}" for key, value in self.python_options)
        return " ".join(self.arguments)


@dataclass(frozen=True)
class Capture:
    """What one client sent: its first ClientHello (body and records), or why there is none."""

    spec: ClientSpec
    body: bytes = b""
    records: bytes = b""
    error: str = ""

    @property
    def message(self) -> bytes:
        """The handshake message: type, u24 length, body."""
        return bytes((_CLIENT_HELLO,)) + len(self.body).to_bytes(3, "big") + self.body


def _openssl(name: str, *options: str) -> ClientSpec:
    base = ("openssl", "s_client", "-connect", f"{_LOOPBACK}:{{port}}", "-quiet", "-no_ign_eof")
    return ClientSpec(f"openssl-{name}", "openssl", (*base, *options))


def _gnutls(name: str, priority: str, *options: str) -> ClientSpec:
    base = ("gnutls-cli", "--port={port}", "--insecure", f"--priority={priority}")
    return ClientSpec(f"gnutls-{name}", "gnutls", (*base, *options, _LOOPBACK))


def _python(name: str, **options: str) -> ClientSpec:
    return ClientSpec(f"python-ssl-{name}", "python-ssl", python_options=tuple(sorted(options.items())))


def client_specs() -> list[ClientSpec]:
    """Every client configuration the script captures."""
    return [
        _openssl("default"),
        _openssl("tls13", "-tls1_3"),
        _openssl("tls13-sni-alpn", "-tls1_3", "-servername", "example.test", "-alpn", "h2,http/1.1"),
        _openssl("groups-x25519-p256", "-tls1_3", "-groups", "X25519:P-256"),
        _openssl("curves-p384-p521", "-curves", "P-384:P-521"),
        _openssl("sigalgs", "-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:ed25519"),
        _openssl("ciphersuites-chacha", "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"),
        _openssl("ciphersuites-all", "-ciphersuites",
                 "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256"),
        _openssl("no-middlebox", "-tls1_3", "-no_middlebox", "-servername", "localhost"),
        _openssl("tls12", "-tls1_2", "-servername", "localhost"),
        _gnutls("normal", "NORMAL"),
        _gnutls("normal-tls13", "NORMAL:-VERS-ALL:+VERS-TLS1.3"),
        _gnutls("secure256", "SECURE256"),
        _gnutls("secure128-x25519", "SECURE128:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519"),
        _gnutls("performance", "PERFORMANCE"),
        _gnutls("normal-sni-alpn", "NORMAL", "--sni-hostname=example.test", "--alpn=h2", "--alpn=http/1.1"),
        _gnutls("normal-tls12", "NORMAL:-VERS-ALL:+VERS-TLS1.2"),
        _python("default", server_name="localhost"),
        _python("no-sni"),
        _python("tls13", minimum="TLSv1_3", server_name="localhost"),
        _python("tls13-alpn", minimum="TLSv1_3", server_name="example.test", alpn="h2,http/1.1"),
        _python("ecdhe-aesgcm", ciphers="ECDHE+AESGCM", server_name="localhost"),
        _python("curve-p384", ecdh_curve="secp384r1", server_name="localhost"),
        _python("tls12", maximum="TLSv1_2", server_name="localhost"),
        _python("post-handshake-auth", post_handshake_auth="1", minimum="TLSv1_3", server_name="localhost"),
    ]  # fmt: skip


def _python_context(options: dict[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False  # nothing answers: no certificate to check
    context.verify_mode = ssl.CERT_NONE
    if "minimum" in options:
        context.minimum_version = ssl.TLSVersion[options["minimum"]]
    if "maximum" in options:
        context.maximum_version = ssl.TLSVersion[options["maximum"]]
    if "ciphers" in options:
        context.set_ciphers(options["ciphers"])
    if "ecdh_curve" in options:
        context.set_ecdh_curve(options["ecdh_curve"])
    if "alpn" in options:
        context.set_alpn_protocols(options["alpn"].split(","))
    if options.get("post_handshake_auth") == "1":
        context.post_handshake_auth = True
    return context


def _python_client(spec: ClientSpec, port: int, timeout: float) -> Callable[[], None]:
    options = dict(spec.python_options)
    context = _python_context(options)  # built here so a bad option fails the capture, not the thread

    def run() -> None:
        try:
            with socket.create_connection((_LOOPBACK, port), timeout=timeout) as raw:
                context.wrap_socket(raw, server_hostname=options.get("server_name")).close()
        except (OSError, ssl.SSLError):
            pass  # expected: the listener closes after the ClientHello

    return run


def _read_client_hello(connection: socket.socket, deadline: float) -> tuple[bytes, bytes]:
    """(records, body): records read until they hold one whole first handshake message, a ClientHello."""
    received = bytearray()
    handshake = bytearray()
    offset = 0
    while True:
        if len(handshake) >= 4 and len(handshake) >= 4 + int.from_bytes(handshake[1:4], "big"):
            if handshake[0] != _CLIENT_HELLO:
                raise ValueError(f"first handshake message has type {handshake[0]}, not ClientHello")
            return bytes(received[:offset]), bytes(handshake[4 : 4 + int.from_bytes(handshake[1:4], "big")])
        if len(received) >= offset + _RECORD_HEADER:
            end = offset + _RECORD_HEADER + int.from_bytes(received[offset + 3 : offset + 5], "big")
            if received[offset] != _HANDSHAKE:
                raise ValueError(f"record of content type {received[offset]} before the ClientHello ended")
            if len(received) >= end:
                handshake += received[offset + _RECORD_HEADER : end]
                offset = end
                continue
        if len(received) > _MAX_HELLO:
            raise ValueError("no whole ClientHello in the first 128 KiB")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the ClientHello")
        connection.settimeout(remaining)
        chunk = connection.recv(65536)
        if not chunk:
            raise ValueError(f"connection closed after {len(received)} bytes, before a whole ClientHello")
        received += chunk


def _start(spec: ClientSpec, port: int, timeout: float) -> subprocess.Popen[bytes] | threading.Thread:
    if spec.kind == "python-ssl":
        thread = threading.Thread(target=_python_client(spec, port, timeout), daemon=True)
        thread.start()
        return thread
    program = shutil.which(spec.arguments[0])
    if program is None:
        package = "gnutls-bin" if spec.kind == "gnutls" else "openssl"
        raise FileNotFoundError(f"{spec.arguments[0]} is not installed (Debian package {package}; see ci/setup.sh)")
    arguments = [program, *(argument.replace("{port}", str(port)) for argument in spec.arguments[1:])]
    return subprocess.Popen(arguments, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(client: subprocess.Popen[bytes] | threading.Thread, timeout: float) -> None:
    if isinstance(client, threading.Thread):
        client.join(timeout)
        return
    try:
        client.wait(timeout)
    except subprocess.TimeoutExpired:
        client.kill()  # only the child this capture started
        client.wait(timeout)


def capture(spec: ClientSpec, timeout: float = 10.0) -> Capture:
    """Run one client against a loopback listener and keep its first ClientHello (never raises)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind((_LOOPBACK, 0))
            listener.listen(1)
            listener.settimeout(timeout)
            client = _start(spec, listener.getsockname()[1], timeout)
            try:
                connection, _ = listener.accept()
                with connection:
                    records, body = _read_client_hello(connection, time.monotonic() + timeout)
            finally:
                _stop(client, timeout)
    except (OSError, ValueError, ssl.SSLError) as error:  # TimeoutError and FileNotFoundError are OSErrors
        return Capture(spec, error=f"{type(error).__name__}: {error}")
    return Capture(spec, body, records)


def capture_all(specs: Sequence[ClientSpec] | None = None, timeout: float = 10.0) -> list[Capture]:
    """Every capture, in order (failed ones carry their error)."""
    return [capture(spec, timeout) for spec in (client_specs() if specs is None else specs)]


def _line(result: Capture, out_dir: Path, as_json: bool) -> str:
    if as_json:
        document = {
            "name": result.spec.name,
            "client": result.spec.kind,
            "command": result.spec.describe(),
            "ok": not result.error,
            "error": result.error or None,
            "body_bytes": len(result.body),
            "record_bytes": len(result.records),
            "body_file": str(out_dir / f"{result.spec.name}.bin") if not result.error else None,
        }
        return json.dumps(document)
    if result.error:
        return f"FAIL {result.spec.name:<34} {result.error}  [{result.spec.describe()}]"
    return f"ok   {result.spec.name:<34} body {len(result.body):>5} B, records {len(result.records):>5} B"


def main(argv: Sequence[str] | None = None) -> int:
    """Capture every client into OUT_DIR; 0 when all captures succeeded, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path, help="where NAME.bin (body) and NAME.records files go")
    parser.add_argument("--json", action="store_true", help="one JSON object per capture")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds for each wait (default 10)")
    arguments = parser.parse_args(argv)
    out_dir: Path = arguments.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for result in capture_all(timeout=arguments.timeout):
        if result.error:
            failed += 1
        else:
            (out_dir / f"{result.spec.name}.bin").write_bytes(result.body)
            (out_dir / f"{result.spec.name}.records").write_bytes(result.records)
        print(_line(result, out_dir, arguments.json), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
