"""Bad input gives typed errors quickly, never a crash or a blinding sleep."""

from __future__ import annotations

import subprocess
import sys

import pytest

from s2n_bridge import (
    Config,
    Connection,
    Mode,
    S2NError,
    S2NProtocolError,
    S2NUsageError,
    ServerCertificate,
    parse_client_hello,
)
from tests.conftest import s2n_pair
from tlsdiff.certs import certificate_for

# A handshake record holding a ClientHello with an empty body.
MALFORMED_CLIENT_HELLO = bytes.fromhex("1603010004 01000000")
# A ClientHello whose length fields promise more than the record holds.
LYING_CLIENT_HELLO = bytes.fromhex("160301000a 01000006 0303 ffffffff")


def _server(config: Config) -> Connection:
    return Connection(config, Mode.SERVER, seed=1)


def test_unknown_policy_is_a_usage_error() -> None:
    with pytest.raises(S2NUsageError) as raised:
        Config("no_such_policy")
    assert raised.value.name == "S2N_ERR_INVALID_SECURITY_POLICY"


@pytest.mark.parametrize(
    "chain_pem", [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
)
def test_garbage_pem_is_a_typed_error(chain_pem: bytes) -> None:
    key_pem = certificate_for("ecdsa-p256").key_pem
    with pytest.raises(S2NError) as raised:
        Config(certificates=[ServerCertificate(chain_pem, key_pem)])
    assert raised.value.name.startswith("S2N_ERR_")


def test_malformed_client_hello_is_rejected_with_a_blinding_delay_left_to_us() -> None:
    certificate = certificate_for("ecdsa-p256")
    served = ServerCertificate(certificate.chain_pem, certificate.key_pem)
    with Config(certificates=[served]) as config, _server(config) as server:
        server.feed(MALFORMED_CLIENT_HELLO)
        with pytest.raises(S2NProtocolError) as raised:
            server.negotiate()
        # s2n computed a blinding delay (10-30 s) and, in self-service mode, did not sleep it.
        assert server.blinding_delay_ns >= 10 * 10**9
    assert raised.value.name == "S2N_ERR_BAD_MESSAGE"


def test_lying_lengths_are_reported_as_s2n_reports_them() -> None:
    certificate = certificate_for("ecdsa-p256")
    served = ServerCertificate(certificate.chain_pem, certificate.key_pem)
    with Config(certificates=[served]) as config, _server(config) as server:
        server.feed(LYING_CLIENT_HELLO)
        with pytest.raises(S2NError) as raised:
            server.negotiate()
    # s2n classes running out of message bytes as an internal-type error, not a protocol one.
    assert raised.value.name == "S2N_ERR_STUFFER_OUT_OF_DATA"


def test_malformed_client_hello_never_sleeps() -> None:
    # A hang guard, not a speed target: s2n's built-in blinding would sleep at least
    # 10 s here; with self-service blinding the whole process ends long before.
    test = test_malformed_client_hello_is_rejected_with_a_blinding_delay_left_to_us.__name__
    script = f"import tests.bridge.test_bad_input as module; module.{test}()"
    subprocess.run([sys.executable, "-c", script], check=True, timeout=9)


@pytest.mark.parametrize("cut", [1, 4, 5, 40, 150])
def test_truncated_records_then_eof_are_typed_errors(cut: int) -> None:
    with s2n_pair() as sides:
        sides.client.negotiate()
        client_hello = sides.client.take_outgoing()
        sides.server.feed(client_hello[:cut])
        sides.server.feed_eof()
        with pytest.raises(S2NError) as raised:
            sides.server.negotiate()
    assert raised.value.name in {"S2N_ERR_CLOSED", "S2N_ERR_IO"}


def test_corrupted_server_flight_is_rejected_by_the_client() -> None:
    with s2n_pair() as sides:
        sides.client.negotiate()
        sides.server.feed(sides.client.take_outgoing())
        sides.server.negotiate()
        flight = bytearray(sides.server.take_outgoing())
        flight[-1] ^= 0x01  # the last record is encrypted: its tag no longer verifies
        sides.client.feed(bytes(flight))
        with pytest.raises(S2NError) as raised:
            while not sides.client.negotiate():
                pass
    assert raised.value.name == "S2N_ERR_DECRYPT"


def test_parse_client_hello_accepts_a_real_one_and_rejects_garbage() -> None:
    with s2n_pair() as sides:
        sides.client.negotiate()
        record = sides.client.take_outgoing()
    message = record[5:]  # the handshake message, header included
    body = message[4:]
    # s2n erases the client random from the raw message it keeps.
    assert parse_client_hello(message) == body[:2] + bytes(32) + body[34:]
    with pytest.raises(S2NError):
        parse_client_hello(b"\x01\x00\x00\x05garbage")
