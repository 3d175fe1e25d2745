"""S2N-1 after a HelloRetryRequest (docs/findings.md): s2n never parses the second ClientHello.

A byte left after the first ClientHello goes out as s2n's HelloRetryRequest; the real HRR
handler, which resets ``client_hello.parsed`` (tls/s2n_server_hello_retry.c:52), never
runs, so ``s2n_client_hello_recv`` (tls/s2n_client_hello.c:669-674) processes the first
ClientHello again whatever the second one holds. These tests pin s2n's behaviour: they
fail once s2n fixes the bug (then the pins under corpus/regression/server_diff/ change too).
"""

from __future__ import annotations

import pytest

from s2n_bridge import Config, Connection, Mode, S2NError, ServerCertificate
from tlsdiff.certs import certificate_for

# The first ClientHello of corpus/regression/server_diff/s2n-reflects-partial-handshake-bytes-
# hrr-then-server-hello.bin: one key share, secp256r1; supported_groups also lists secp384r1,
# the group policy 20251116 strongly prefers (cnsa_1_strong_preference), so s2n asks for a retry.
FIRST_CLIENT_HELLO = bytes.fromhex(
    "010001010303ee35762f968d9d795f390364451cf47b3d46177518df50ec1131d69caa5e4f1520be2c334fdcd76a5e28"
    "ea2a1174658be7a64ee1671df6dbc0c31209f32041492e001c130113021303c02bc02fc02cc030cca9cca8c024c028c0"
    "23c02700ff0100009c002b00050403040303000a000a00080017001d0018001900330047004500170041045996236cf5"
    "2edbf14ee3dc1e72ae43417a859fa8818e3f4c2aaa1f74b017db4c3c3a2adb764bfb11200f070495891a6c524dfdc3a2"
    "0aa9d91f09fddd316c4990000d001a00180403050306030809080a080b0804080508060401050106010000000e000c00"
    "00096c6f63616c686f7374000b0002010000170000"
)
EMPTY_CLIENT_HELLO = bytes.fromhex("01000000")
CCS = bytes.fromhex("140303000101")


def _record(body: bytes) -> bytes:
    return b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body


def _serve(*flights: bytes) -> tuple[bytes, str]:
    """Feed an s2n server (policy 20251116) each flight; its output and the error name it fails with."""
    certificate = certificate_for("ecdsa-p384")
    served = ServerCertificate(certificate.chain_pem, certificate.key_pem)
    with (
        Config("20251116", certificates=[served], system_trust=False) as config,
        Connection(config, Mode.SERVER, seed=1) as server,
    ):
        output = b""
        for flight in flights:
            server.feed(flight)
            try:
                server.negotiate()
            except S2NError as error:
                return output + server.take_outgoing(), error.name
            output += server.take_outgoing()
    return output, "waiting"


def test_control_a_real_retry_parses_the_second_client_hello() -> None:
    output, error = _serve(_record(FIRST_CLIENT_HELLO), _record(EMPTY_CLIENT_HELLO))
    assert output.startswith(bytes.fromhex("160303005802000054"))  # the HelloRetryRequest itself
    assert error == "S2N_ERR_BAD_MESSAGE"  # the empty ClientHello is refused (tls/s2n_client_hello.c:216)


@pytest.mark.parametrize("second", [EMPTY_CLIENT_HELLO, b"\x01" + (60).to_bytes(3, "big") + b"\xaa" * 60])
def test_after_a_reflected_retry_any_second_client_hello_passes(second: bytes) -> None:
    output, error = _serve(_record(FIRST_CLIENT_HELLO + b"\x00"), _record(second))
    assert output == bytes.fromhex("160303000100") + CCS  # the peer's byte as the HelloRetryRequest
    # Not a parse error: the ServerHello fails on the first hello's secp256r1 share
    # (tls/extensions/s2n_server_key_share.c:135).
    assert error == "S2N_ERR_BAD_KEY_SHARE"


def test_a_second_reflection_fails_on_the_curve_mismatch() -> None:
    hello = _record(FIRST_CLIENT_HELLO + b"\x00")
    output, error = _serve(hello, hello)
    # HRR and ServerHello are both the peer's byte; then POSIX_ENSURE_EQ of the server's and the
    # client's curves (tls/s2n_tls13_handshake.c:64) fails.
    assert output.startswith(bytes.fromhex("160303000100") + CCS + bytes.fromhex("160303000100"))
    assert error == "S2N_ERR_SAFETY"
