"""``tlsdiff client`` and ``tlsdiff server`` over loopback: each other, both implementations, OpenSSL and GnuTLS.

Every peer is a child process on 127.0.0.1 (ports chosen by the kernel: port 0), each
test bounded by short timeouts. The handshake trace goes to stderr, data to stdout.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engine.config import CertifiedKey, EngineConfig
from engine.connection import TLSConnection
from engine.crypto.signer import KeySigner
from tlsdiff.certs import certificate_for, trust_anchors
from tlsdiff.cli import main
from tlsdiff.net_options import parse_address
from tlsdiff.net_session import Wire
from tlsdiff.net_trace import WireTrace, describe_message
from tlsdiff.net_www import Request, response_for

TLSDIFF = (sys.executable, "-m", "tlsdiff.cli")
OPENSSL = shutil.which("openssl")
GNUTLS_SERV = shutil.which("gnutls-serv")
GNUTLS_CLI = shutil.which("gnutls-cli")
WAIT = 15.0  # how long any child may take before the test fails instead of hanging
IMPLEMENTATIONS = ("engine", "s2n")
TLS13_ONLY = "NORMAL:-VERS-ALL:+VERS-TLS1.3"
HANDSHAKE_MESSAGES = (
    ">>> CLIENT_HELLO",
    "<<< SERVER_HELLO",
    "<<< SERVER_CHANGE_CIPHER_SPEC",
    "<<< ENCRYPTED_EXTENSIONS",
    "<<< SERVER_CERT",
    "<<< SERVER_CERT_VERIFY",
    "<<< SERVER_FINISHED",
    ">>> CLIENT_CHANGE_CIPHER_SPEC",
    ">>> CLIENT_FINISHED",
)


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The test certificate, its key and CA, and a CA that did not issue it, as PEM files."""
    directory = tmp_path_factory.mktemp("pem")
    bundle = certificate_for("ecdsa-p256")
    files = {
        "cert": bundle.chain_pem,
        "key": bundle.key_pem,
        "ca": bundle.ca_pem,
        "stranger": trust_anchors("stranger", "ecdsa-p256")[0],
    }
    for name, data in files.items():
        (directory / f"{name}.pem").write_bytes(data)
    return {name: directory / f"{name}.pem" for name in files}


class Child:
    """A child process whose output lines are collected by a thread (so a test can wait for one)."""

    def __init__(self, argv: Sequence[str], *, stdin: bytes | None = None, merge: bool = False) -> None:
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self.stdout = bytearray()
        watched = self.process.stdout if merge else self.process.stderr
        assert watched is not None and self.process.stdout is not None
        self._threads = [threading.Thread(target=self._read_lines, args=(watched,), daemon=True)]
        if not merge:
            self._threads.append(threading.Thread(target=self._read_bytes, args=(self.process.stdout,), daemon=True))
        for thread in self._threads:
            thread.start()
        if stdin is not None:
            assert self.process.stdin is not None
            self.process.stdin.write(stdin)
            self.process.stdin.close()

    def _read_lines(self, stream: object) -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            line = raw.decode(errors="replace").rstrip("\n")
            self.stderr.append(line)
            self.lines.put(line)

    def _read_bytes(self, stream: object) -> None:
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            self.stdout += chunk

    def wait_for(self, pattern: str) -> re.Match[str]:
        """The first output line (from now on) matching ``pattern``; fails after ``WAIT`` seconds."""
        deadline = time.monotonic() + WAIT
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} in {self.stderr}")

    def finish(self) -> int:
        """Wait for the child to exit (killed after ``WAIT``) and for its output; its exit status."""
        try:
            code = self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        finally:
            self._join()
        return code

    def _join(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        for thread in self._threads:
            thread.join(WAIT)

    def stop(self) -> None:
        """End a child that serves until stopped."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(WAIT)
        self._join()


@contextmanager
def tlsdiff_server(*args: str, stdin: bytes | None = None) -> Iterator[tuple[Child, int]]:
    """``tlsdiff server 127.0.0.1:0 ARGS``, and the port it reports listening on."""
    child = Child([*TLSDIFF, "server", "127.0.0.1:0", *args], stdin=stdin)
    try:
        port = int(child.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
        yield child, port
    finally:
        child.stop()


def tlsdiff_client(
    port: int, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``tlsdiff client 127.0.0.1:PORT ARGS`` with ``stdin`` (and ``env`` added to the environment), run to its end."""
    return subprocess.run(
        [*TLSDIFF, "client", f"127.0.0.1:{port}", *args], input=stdin, capture_output=True, timeout=WAIT, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def trusting(pem: dict[str, Path]) -> tuple[str, ...]:
    """Client flags that verify the test certificate."""
    return ("--CAfile", str(pem["ca"]), "--servername", "localhost")


def free_port() -> int:
    """A port free a moment ago (for peers that cannot report the one they got)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def openssl_server(pem: dict[str, Path], *args: str) -> Iterator[int]:
    """``openssl s_server`` on 127.0.0.1, TLS 1.3 only; its stdin stays open (at EOF it would hang up)."""
    assert OPENSSL is not None
    argv = [OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", str(pem["cert"]), "-key", str(pem["key"])]
    child = Child([*argv, "-tls1_3", *args], merge=True)
    try:
        yield int(child.wait_for(r"ACCEPT 127\.0\.0\.1:(\d+)").group(1))
    finally:
        child.stop()


def stderr_of(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    """The lines a command wrote on stderr."""
    return result.stderr.decode().splitlines()


needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="needs /usr/bin/openssl")
needs_gnutls = pytest.mark.skipif(GNUTLS_SERV is None or GNUTLS_CLI is None, reason="needs gnutls-bin")


# ---- the pieces, in process ----


def _engine_conversation() -> tuple[list[tuple[str, bytes]], list[bytes]]:
    """An engine client and server in memory, with ALPN: every transfer and the client's key log."""
    bundle = certificate_for("ecdsa-p256")
    anchors = tuple(x509.load_pem_x509_certificates(bundle.ca_pem))
    leaf = x509.load_pem_x509_certificate(bundle.chain_pem).public_bytes(Encoding.DER)
    served = CertifiedKey((leaf,), KeySigner(bundle.private_key))
    key_log: list[bytes] = []
    client = TLSConnection(
        EngineConfig(trust_anchors=anchors, alpn=(b"h2",)), client=True, server_name="localhost", key_log=key_log.append
    )
    server = TLSConnection(EngineConfig(certificates=(served,), alpn=(b"h2",)), client=False)
    wire: list[tuple[str, bytes]] = []
    client.start()
    sender, receiver, direction = client, server, "client->server"
    while data := sender.data_to_send():
        wire.append((direction, data))
        receiver.receive_data(data)
        sender, receiver = receiver, sender
        direction = "server->client" if direction == "client->server" else "client->server"
    client.close()
    wire.append(("client->server", client.data_to_send()))
    return wire, key_log


def test_the_trace_names_each_message_as_s2n_does() -> None:
    wire, key_log = _engine_conversation()
    lines: list[str] = []
    seen: list[tuple[str, bytes]] = []
    trace = WireTrace(seen, key_log, "client->server", lines.append)
    for transfer in wire:  # as a session shows them: after each transfer
        seen.append(transfer)
        trace.update()
    trace.finish()
    assert [" ".join(line.split()[:2]) for line in lines] == [*HANDSHAKE_MESSAGES, ">>> ALERT"]
    assert "alpn h2" in lines[0] and "sni localhost" in lines[0] and "key share secp256r1" in lines[0]
    assert lines[3].endswith("server_name alpn h2")
    assert lines[4].endswith("1 certificate, leaf CN=localhost")
    assert lines[5].endswith("ecdsa_secp256r1_sha256")
    assert lines[-1] == "  >>> ALERT warning close_notify (0)"


def test_without_the_key_log_the_trace_says_what_it_cannot_read() -> None:
    wire, _ = _engine_conversation()
    lines: list[str] = []
    trace = WireTrace([*wire, ("server->client", b"\x17\x03\x03\x00")], [], "client->server", lines.append)
    trace.finish()
    assert lines[1].startswith("  <<< SERVER_HELLO")
    assert re.fullmatch(r"  <<< encrypted record, \d+ bytes \(no key for it\)", lines[3])
    assert lines[-1] == "  <<< 4 bytes that end before a whole record"


def test_the_trace_is_live_and_holds_a_record_back_until_its_key_comes() -> None:
    """The client's trace, fed as a session feeds it: each transfer when it crosses, keys when the client logs them."""
    bundle = certificate_for("ecdsa-p256")
    anchors = tuple(x509.load_pem_x509_certificates(bundle.ca_pem))
    leaf = x509.load_pem_x509_certificate(bundle.chain_pem).public_bytes(Encoding.DER)
    key_log: list[bytes] = []
    client = TLSConnection(
        EngineConfig(trust_anchors=anchors), client=True, server_name="localhost", key_log=key_log.append
    )
    served = CertifiedKey((leaf,), KeySigner(bundle.private_key))
    server = TLSConnection(EngineConfig(certificates=(served,)), client=False)
    lines: list[str] = []
    wire = Wire()
    trace = WireTrace(wire, key_log, "client->server", lines.append)
    wire.observer = trace.update
    client.start()
    hello = client.data_to_send()
    wire.append(("client->server", hello))
    assert [line.split()[1] for line in lines] == ["CLIENT_HELLO"]  # printed before the server has answered
    server.receive_data(hello)
    flight = server.data_to_send()
    wire.append(("server->client", flight))  # the encrypted part waits: the client has no key for it yet
    assert [line.split()[1] for line in lines[1:]] == ["SERVER_HELLO", "SERVER_CHANGE_CIPHER_SPEC"]
    client.receive_data(flight)
    wire.append(("client->server", client.data_to_send()))
    assert [" ".join(line.split()[:2]) for line in lines] == list(HANDSHAKE_MESSAGES)
    trace.settle()
    assert len(lines) == len(HANDSHAKE_MESSAGES)


def test_settle_prints_what_is_held_even_without_its_key() -> None:
    wire, _ = _engine_conversation()
    lines: list[str] = []
    seen = Wire()
    trace = WireTrace(seen, [], "client->server", lines.append)
    seen.observer = trace.update
    seen.extend(wire[:1])
    seen.append(wire[1])
    assert [line.split()[1] for line in lines] == ["CLIENT_HELLO", "SERVER_HELLO", "SERVER_CHANGE_CIPHER_SPEC"]
    trace.settle()  # the handshake failed here: what was held is shown as it is
    assert re.fullmatch(r"  <<< encrypted record, \d+ bytes \(no key for it\)", lines[3])


def test_describe_message_reads_whatever_it_is_given() -> None:
    assert describe_message(b"\x18\x00\x00\x01\x01", from_client=False) == "KEY_UPDATE 1 bytes: update_requested"
    assert describe_message(b"\x0b\x00", from_client=True).startswith("CLIENT_CERT")
    assert describe_message(b"", from_client=True).endswith("0 bytes")


def test_the_status_page_escapes_what_the_request_carries() -> None:
    info = TLSConnection(EngineConfig(), client=True).info()
    response = response_for(Request(b"GET /<script> HTTP/1.0\r\n\r\n"), info, "engine", "connection 1")
    head, body = response.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.0 200 ok\r\n") and f"Content-Length: {len(body)}".encode() in head
    assert b"/&lt;script&gt;" in body and b"<script>" not in body
    assert response_for(Request(b"HEAD / HTTP/1.0\r\n\r\n"), info, "engine", "c").endswith(b"\r\n\r\n")
    assert response_for(Request(b"\x16\x03\x01garbage\r\n\r\n"), info, "engine", "c").startswith(b"HTTP/1.0 400")
    assert response_for(Request(b"GET", too_long=True), info, "engine", "c").startswith(b"HTTP/1.0 431")


def test_addresses() -> None:
    assert parse_address("[::1]:443").host == "::1"
    assert parse_address("8443", default_host="127.0.0.1").port == 8443
    for bad in ("nohost", "::1:443", ":443", "host:99999", "host:http"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"HOST:PORT|IPv6|no host|TCP port"):
            parse_address(bad)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["client", "127.0.0.1:1"], "give --CAfile FILE to verify the server, or --insecure"),
        (["client", "127.0.0.1:1", "--CAfile", "/nonexistent/ca.pem"], "/nonexistent/ca.pem: cannot read"),
        (["client", "127.0.0.1:1", "--insecure", "--policy", "no_such"], "'no_such' is not an s2n-tls security"),
        (["client", "127.0.0.1:1", "--insecure", "--implementation", "s2n", "--max-record", "1000"], "s2n sizes"),
        (["client", "127.0.0.1:1", "--insecure", "--keylog", "/nonexistent/keys"], "cannot open the key log"),
        (["server", "0", "--cert", "/nonexistent/cert.pem"], "give both --cert FILE and --key FILE"),
        (["server", "0", "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"], "/nonexistent/c.pem"),
    ],
)
def test_bad_usage_is_one_line_and_status_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tlsdiff {argv[0]}: ") and message in lines[0], lines


def test_a_bad_flag_is_argparses_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["client", "127.0.0.1:1", "--insecure", "--no-such-flag"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "tlsdiff: error: unrecognized arguments: --no-such-flag"


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_the_trace_shows_where_a_silent_server_stalled(implementation: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts, reads, never answers
        port = listener.getsockname()[1]
        client = Child([*TLSDIFF, "client", f"127.0.0.1:{port}", "--insecure", "--timeout", "6", "--implementation",
                        implementation])  # fmt: skip
        try:
            peer, _ = listener.accept()
            with peer:
                client.wait_for(r"^  >>> CLIENT_HELLO ")
                assert client.process.poll() is None  # printed while the handshake waits, not after
                assert client.finish() == 1
        finally:
            client.stop()
    assert client.stderr[-1].startswith("tlsdiff client: timed out")


def test_a_refused_connection_is_one_line_and_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert main(["client", f"127.0.0.1:{port}", "--insecure"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"tlsdiff client: cannot connect: 127.0.0.1:{port}: connection refused"
    ]


# ---- tlsdiff against tlsdiff ----


@pytest.mark.parametrize(("client", "server"), [("engine", "engine"), ("s2n", "engine"), ("engine", "s2n")])
def test_client_to_server(client: str, server: str, pem: dict[str, Path], tmp_path: Path) -> None:
    keys = tmp_path / "keys.log"
    # The server's stdin stays open: it closes only when the client has (s_server's way).
    with tlsdiff_server("--once", "--implementation", server, "--alpn", "h2") as (srv, port):
        result = tlsdiff_client(
            port, *trusting(pem), "--implementation", client, "--alpn", "h2,http/1.1", "--keylog", str(keys),
            stdin=b"from the client\n",
        )  # fmt: skip
        assert srv.finish() == 0, srv.stderr
    assert result.returncode == 0, result.stderr
    assert bytes(srv.stdout) == b"from the client\n"
    trace = stderr_of(result)
    arrows = [" ".join(line.split()[:2]) for line in trace if line.startswith(("  >>>", "  <<<"))]
    # the client's close_notify, the server's answer, then how much data went
    assert arrows == [*HANDSHAKE_MESSAGES, ">>> ALERT", "<<< ALERT", ">>> application"]
    assert "  >>> application data: 16 bytes in 1 record (largest 16)" in trace
    assert "  alpn              h2" in trace and f"  implementation    {client}" in trace
    assert "  handshake type    NEGOTIATED|FULL_HANDSHAKE|MIDDLEBOX_COMPAT" in trace
    assert trace[-1] == "tlsdiff client: closed"
    assert f"  implementation    {server}" in srv.stderr and srv.stderr[-1].endswith(": closed")
    assert any(line.startswith("  <<< CLIENT_HELLO") for line in srv.stderr)  # the same trace, arrows turned
    labels = {line.split()[0] for line in keys.read_bytes().splitlines()}
    assert {b"CLIENT_HANDSHAKE_TRAFFIC_SECRET", b"SERVER_TRAFFIC_SECRET_0"} <= labels
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o600


@pytest.mark.parametrize(("client", "server"), [("engine", "engine"), ("s2n", "engine"), ("engine", "s2n")])
def test_server_to_client(client: str, server: str, pem: dict[str, Path]) -> None:
    data = b"from the server\n" * 2000  # 32 kB: several records
    with tlsdiff_server("--once", "--implementation", server, stdin=data) as (srv, port):
        # The client's stdin stays open: it closes when the server has.
        reader = Child([*TLSDIFF, "client", f"127.0.0.1:{port}", *trusting(pem), "--implementation", client])
        assert reader.finish() == 0, reader.stderr
        assert srv.finish() == 0, srv.stderr
    assert bytes(reader.stdout) == data
    assert reader.stderr[-4:-2] == ["  <<< ALERT warning close_notify (0)", "  >>> ALERT warning close_notify (0)"]
    # s2n's default record size, the engine's too (how many records depends on how stdin was read)
    assert re.fullmatch(r"  <<< application data: 32000 bytes in \d+ records \(largest 8087\)", reader.stderr[-2])
    assert reader.stderr[-1] == "tlsdiff client: closed"


@pytest.mark.parametrize(("implementation", "size"), [("engine", 1000), ("s2n", 1435), ("s2n", 16384)])
def test_max_record_sizes_what_is_sent(implementation: str, size: int, pem: dict[str, Path]) -> None:
    with tlsdiff_server("--once") as (srv, port):
        result = tlsdiff_client(
            port, *trusting(pem), "--implementation", implementation, "--max-record", str(size), stdin=b"x" * 20000
        )
        assert srv.finish() == 0
    assert result.returncode == 0, result.stderr
    (sent,) = [line for line in stderr_of(result) if line.startswith("  >>> application data: 20000 bytes")]
    assert sent.endswith(f"(largest {size})")
    assert bytes(srv.stdout) == b"x" * 20000


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_quiet_prints_no_trace_and_sslkeylogfile_is_the_default(
    implementation: str, pem: dict[str, Path], tmp_path: Path
) -> None:
    keys = tmp_path / "env-keys.log"
    with tlsdiff_server("--once", "--quiet", stdin=b"") as (srv, port):
        result = tlsdiff_client(
            port, *trusting(pem), "--quiet", "--implementation", implementation, env={"SSLKEYLOGFILE": str(keys)}
        )
        assert srv.finish() == 0
    assert result.returncode == 0 and result.stderr == b""
    assert srv.stderr[-1].startswith("tlsdiff server: listening on")
    assert b"CLIENT_TRAFFIC_SECRET_0 " in keys.read_bytes()


def test_a_server_that_fails_verification_is_refused_on_both_sides(pem: dict[str, Path]) -> None:
    with tlsdiff_server("--once") as (srv, port):
        result = tlsdiff_client(port, "--CAfile", str(pem["stranger"]), "--servername", "localhost")
        assert srv.finish() == 1
    assert result.returncode == 1
    assert stderr_of(result)[-1].startswith("tlsdiff client: handshake failed: certificate does not verify")
    assert srv.stderr[-1].endswith(": handshake refused: peer sent close_notify during the handshake")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_an_ip_address_is_verified_as_one_and_never_sent(implementation: str, pem: dict[str, Path]) -> None:
    # RFC 6066 section 3: no SNI for an address; the test certificate carries 127.0.0.1 as an iPAddress SAN.
    with tlsdiff_server("--once", stdin=b"") as (srv, port):
        result = tlsdiff_client(port, "--CAfile", str(pem["ca"]), "--implementation", implementation)
        assert srv.finish() == 0
    assert result.returncode == 0, result.stderr
    (client_hello,) = [line for line in stderr_of(result) if "CLIENT_HELLO" in line]
    assert "sni" not in client_hello
    assert "  server name       none" in srv.stderr


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_name_the_certificate_does_not_carry_fails(implementation: str, pem: dict[str, Path]) -> None:
    with tlsdiff_server("--once") as (srv, port):
        result = tlsdiff_client(
            port, "--CAfile", str(pem["ca"]), "--servername", "example.test", "--implementation", implementation
        )
        srv.finish()
    assert result.returncode == 1
    assert stderr_of(result)[-1].startswith("tlsdiff client: handshake failed: ")


# ---- --www, and clients that misbehave ----


def _https_get(port: int, ca: Path, path: str = "/") -> bytes:
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        reply = bytearray()
        while chunk := tls.recv(65536):
            reply += chunk
        return bytes(reply)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_www_serves_and_survives_misbehaving_clients(implementation: str, pem: dict[str, Path]) -> None:
    with tlsdiff_server("--www", "--implementation", implementation, "--timeout", "0.5") as (srv, port):
        for path in ("/first", "/second"):
            page = _https_get(port, pem["ca"], path)
            assert page.startswith(b"HTTP/1.0 200 ok\r\n")
            assert f"request: GET {path} HTTP/1.0".encode() in page and b"TLSv1.3" in page
        with socket.create_connection(("127.0.0.1", port)) as garbage:
            # Plain HTTP to the TLS port: its first bytes read as a record of 8239 bytes, of no TLS type.
            garbage.sendall(b"GET / HTTP/1.0\r\nX-Padding: " + b"x" * 9000 + b"\r\n\r\n")
            srv.wait_for(r"connection 3 .*: handshake failed: ")
        with socket.create_connection(("127.0.0.1", port)) as half_open:
            half_open.shutdown(socket.SHUT_WR)
            srv.wait_for(r"connection 4 .*: handshake refused: peer closed the connection during the handshake")
        with socket.create_connection(("127.0.0.1", port)):
            srv.wait_for(r"connection 5 .*: timed out: no answer from the peer in 0.5 s during the handshake")
        assert _https_get(port, pem["ca"], "/after").startswith(b"HTTP/1.0 200 ok\r\n")
        srv.wait_for(r"connection 6 .*: closed")
        assert srv.process.poll() is None


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_www_bounds_a_request_that_never_ends_and_a_client_that_never_closes(
    implementation: str, pem: dict[str, Path]
) -> None:
    context = ssl.create_default_context(cafile=str(pem["ca"]))
    with tlsdiff_server("--www", "--implementation", implementation, "--timeout", "0.5") as (srv, port):
        with (
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"GET / HTTP/1.0\r\n")  # and never the blank line
            srv.wait_for(r"connection 1 .*: timed out: no complete HTTP request in 0.5 s")
        with (
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            deadline = time.monotonic() + 3
            with pytest.raises(OSError):  # it goes on talking, never closing, until the server hangs up
                while time.monotonic() < deadline:
                    tls.sendall(b"more")
                    time.sleep(0.05)
            srv.wait_for(r"connection 2 .*: timed out: the peer did not close within 0.5 s")
        assert _https_get(port, pem["ca"]).startswith(b"HTTP/1.0 200 ok")


# ---- against OpenSSL ----


@needs_openssl
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_client_against_openssl_www(implementation: str, pem: dict[str, Path]) -> None:
    with openssl_server(pem, "-www") as port:
        result = tlsdiff_client(
            port, *trusting(pem), "--implementation", implementation, stdin=b"GET / HTTP/1.0\r\n\r\n"
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"HTTP/1.0 200 ok") and b"TLSv1.3" in result.stdout
    trace = stderr_of(result)
    assert sum(line.startswith("  <<< NEW_SESSION_TICKET") for line in trace) == 2
    assert trace[-1] == "tlsdiff client: closed"


def _openssl_client(port: int, pem: dict[str, Path], *args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(pem["ca"]), "-servername", "localhost",
         "-verify_return_error", "-tls1_3", *args],
        input=stdin, capture_output=True, timeout=WAIT, check=False,
    )  # fmt: skip


@needs_openssl
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_server_against_openssl_s_client(implementation: str, pem: dict[str, Path]) -> None:
    # s_client sends its stdin, then close_notify at its end; the server's stdin stays open.
    with tlsdiff_server("--once", "--implementation", implementation) as (srv, port):
        result = _openssl_client(port, pem, stdin=b"from openssl\n")
        assert srv.finish() == 0, srv.stderr
    assert result.returncode == 0, result.stderr
    assert bytes(srv.stdout) == b"from openssl\n"
    assert "  server name       localhost" in srv.stderr
    # -quiet (-ign_eof): s_client waits for the server, which sends its stdin and closes.
    with tlsdiff_server("--once", "--implementation", implementation, stdin=b"from tlsdiff\n") as (srv, port):
        result = _openssl_client(port, pem, "-quiet", stdin=b"")
        assert srv.finish() == 0, srv.stderr
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"from tlsdiff\n"


@needs_openssl
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("openssl_args", "client_args", "alert"),
    [
        (("-alpn", "h2"), ("--alpn", "http/1.1"), "no_application_protocol (120)"),
        (("-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"), ("--policy", "default_fips"), "handshake_failure (40)"),
    ],
)
def test_a_refused_handshake_is_reported_as_refused(
    implementation: str, openssl_args: tuple[str, ...], client_args: tuple[str, ...], alert: str, pem: dict[str, Path]
) -> None:
    with openssl_server(pem, *openssl_args) as port:
        result = tlsdiff_client(port, *trusting(pem), "--implementation", implementation, *client_args, "--quiet")
    assert result.returncode == 1
    assert stderr_of(result) == [f"tlsdiff client: handshake refused: peer sent alert {alert}"]


# ---- against GnuTLS ----


@needs_gnutls
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_client_against_gnutls_serv(implementation: str, pem: dict[str, Path]) -> None:
    assert GNUTLS_SERV is not None
    port = free_port()
    argv = [GNUTLS_SERV, "--echo", "--disable-client-cert", "--port", str(port), "--priority", TLS13_ONLY,
            "--x509certfile", str(pem["cert"]), "--x509keyfile", str(pem["key"])]  # fmt: skip
    server = Child(argv, merge=True)
    try:
        server.wait_for(r"listening on IPv4")
        result = tlsdiff_client(port, *trusting(pem), "--implementation", implementation, stdin=b"echo me\n")
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"echo me\n"


@needs_gnutls
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_server_against_gnutls_cli(implementation: str, pem: dict[str, Path]) -> None:
    assert GNUTLS_CLI is not None
    with tlsdiff_server("--www", "--implementation", implementation) as (srv, port):
        result = subprocess.run(
            [GNUTLS_CLI, "--port", str(port), "--x509cafile", str(pem["ca"]), "--priority", TLS13_ONLY, "localhost"],
            input=b"GET /gnutls HTTP/1.0\r\n\r\n", capture_output=True, timeout=WAIT, check=False,
        )  # fmt: skip
        srv.wait_for(r"connection 1 .*: closed")
    assert result.returncode == 0, result.stderr
    assert b"HTTP/1.0 200 ok" in result.stdout and b"request: GET /gnutls HTTP/1.0" in result.stdout


@needs_openssl
def test_a_closed_stdout_stops_the_client_quietly_with_sigpipes_status(pem: dict[str, Path]) -> None:
    # `tlsdiff client ... | head -c 0`: the reader of stdout is gone before the page arrives.
    read_end, write_end = os.pipe()
    os.close(read_end)
    with openssl_server(pem, "-www") as port:
        result = subprocess.run(
            [*TLSDIFF, "client", f"127.0.0.1:{port}", *trusting(pem), "--quiet"],
            input=b"GET / HTTP/1.0\r\n\r\n", stdout=write_end, stderr=subprocess.PIPE, timeout=30, check=False,
        )  # fmt: skip
    os.close(write_end)
    assert result.returncode == 128 + 13, result.stderr
    assert result.stderr == b""
