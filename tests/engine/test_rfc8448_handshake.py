"""Known answers from RFC 8448 sections 3, 5 and 7, produced by the engine's state machines.

An engine client and an engine server run the whole connection against each other. They
are given what the trace's peers had: the randoms and ephemeral private keys (through a
scripted ``RandomSource``), the server's certificate, the HRR cookie, and the message
layout of the trace's peers (``MessageLayout``: their ClientHello offer, extension
order and fixed extension bodies, one record for the server's encrypted flight, no
middlebox compatibility in sections 3 and 5). The trace gives no private key for the
server's RSA certificate, so its signer hands back the trace's CertificateVerify
signature after checking it signs exactly the digest the engine asks for. The engine
issues no tickets: the NewSessionTicket of section 3 is sealed with the server's write
protection (``engine.instrument``), and the engine client drops it as an s2n client
without tickets does.

Every record both peers write must equal the trace's, in order, and the key log must
hold the trace's traffic secrets.

#= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
#= type=test
## Upon receipt of a HelloRetryRequest, the client MUST check the legacy_version, legacy_session_id_echo,
## cipher_suite, and legacy_compression_method as specified in Section 4.1.3 and then process the extensions,
## starting with determining the version using "supported_versions".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from engine.config import CertifiedKey, Compat, EngineConfig, MessageLayout
from engine.connection import ConnectionClosed, DataReceived, TLSConnection
from engine.crypto.signer import SignatureScheme
from engine.instrument import PlaintextRecord
from engine.policies import ClientHelloOffer
from engine.randomness import RandomSource
from engine.record.layer import ContentType
from engine.wire.extensions import Cookie, ExtensionType, find_extension
from engine.wire.handshake import Certificate, CertificateVerify, ClientHello, ServerHello, decode_handshake
from tests.rfc8448_vectors import ScriptedRandom, Step, find, load_section
from tlsdiff.transcript import split_records

X25519, P256, P384, P521 = 0x001D, 0x0017, 0x0018, 0x0019
FFDHE = (0x0100, 0x0101, 0x0102, 0x0103, 0x0104)
ET = ExtensionType

# What the trace's client offers (read off its ClientHellos, written out as a policy would be).
CLIENT_OFFER = ClientHelloOffer(
    legacy_version=0x0303,
    cipher_suites=(0x1301, 0x1303, 0x1302),
    extensions=(ET.SERVER_NAME, ET.RENEGOTIATION_INFO, ET.SUPPORTED_GROUPS, ET.SESSION_TICKET, ET.KEY_SHARE,
                ET.SUPPORTED_VERSIONS, ET.SIGNATURE_ALGORITHMS, ET.PSK_KEY_EXCHANGE_MODES, ET.RECORD_SIZE_LIMIT),
    supported_versions=(0x0304,),
    groups=(X25519, P256, P384, P521, *FFDHE),
    key_share_groups=(X25519,),
    signature_schemes=(0x0403, 0x0503, 0x0603, 0x0203, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201,
                       0x0402, 0x0502, 0x0602, 0x0202),
)  # fmt: skip
CLIENT_BODIES = (
    (ET.RENEGOTIATION_INFO, b"\x00"),
    (ET.PSK_KEY_EXCHANGE_MODES, b"\x01\x01"),
    (ET.RECORD_SIZE_LIMIT, b"\x40\x01"),
)
# Section 5's client offers no ticket, fewer groups, and orders cookie and padding for its retry.
RETRY_OFFER = replace(
    CLIENT_OFFER,
    extensions=(ET.SERVER_NAME, ET.RENEGOTIATION_INFO, ET.SUPPORTED_GROUPS, ET.KEY_SHARE, ET.SUPPORTED_VERSIONS,
                ET.SIGNATURE_ALGORITHMS, ET.COOKIE, ET.PSK_KEY_EXCHANGE_MODES, ET.RECORD_SIZE_LIMIT, ET.PADDING),
    groups=(X25519, P256, P384),
)  # fmt: skip
COMPAT_OFFER = replace(CLIENT_OFFER, extensions=tuple(e for e in CLIENT_OFFER.extensions if e != ET.SESSION_TICKET))


def _groups_body(*groups: int) -> bytes:
    body = b"".join(group.to_bytes(2, "big") for group in groups)
    return len(body).to_bytes(2, "big") + body


@dataclass(frozen=True)
class Setup:
    """Per section: the client's offer, the server's groups as its EncryptedExtensions lists them, its policy."""

    offer: ClientHelloOffer
    middlebox: bool
    server_groups: tuple[int, ...]
    server_policy: str


SETUPS = {
    # default_tls13 takes the client's x25519 share and signs with rsa_pss_rsae_sha256.
    3: Setup(CLIENT_OFFER, False, (X25519, P256, P384, P521, *FFDHE), "default_tls13"),
    # default_fips lacks x25519: the server asks for P-256 with a HelloRetryRequest, as the trace's does.
    5: Setup(RETRY_OFFER, False, (P256, P384, X25519), "default_fips"),
    7: Setup(COMPAT_OFFER, True, (X25519, P256, P384, P521, *FFDHE), "default_tls13"),
}


class TraceSigner:
    """Returns the trace's signature, after checking it signs the digest the engine asks to sign."""

    def __init__(self, public_key: rsa.RSAPublicKey, signature: bytes) -> None:
        self._public_key, self._signature = public_key, signature

    def sign_digest(self, scheme: SignatureScheme, digest: bytes, random: RandomSource) -> bytes:
        if scheme != SignatureScheme.RSA_PSS_RSAE_SHA256:
            raise AssertionError(f"the engine chose {scheme!r}; the trace signs with rsa_pss_rsae_sha256")
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        try:
            self._public_key.verify(self._signature, digest, pss, utils.Prehashed(hashes.SHA256()))
        except InvalidSignature:
            raise AssertionError("the engine asked to sign another transcript than the trace's") from None
        return self._signature


def _message(steps: list[Step], side: str, name: str, nth: int = 0) -> bytes:
    return find(steps, side, f"construct a {name} handshake", nth).values[name]  # type: ignore[arg-type]


def _private_keys(steps: list[Step], side: str) -> list[bytes]:
    return [s.values["private key"] for s in steps if s.side == side and "ephemeral" in s.action]


def _client(section: int, steps: list[Step], key_log: list[bytes]) -> tuple[TLSConnection, ScriptedRandom]:
    setup = SETUPS[section]
    hello = decode_handshake(_message(steps, "client", "ClientHello"))
    assert isinstance(hello, ClientHello)
    layout = MessageLayout(
        client_hello=setup.offer,
        extension_bodies=CLIENT_BODIES,
        middlebox_compatibility=setup.middlebox,
        pad_client_hello=True,
    )
    config = EngineConfig("default_tls13", verify=False, compat=Compat.rfc(), layout=layout)
    random = ScriptedRandom(hello.random, hello.legacy_session_id, *_private_keys(steps, "client"))
    connection = TLSConnection(config, client=True, random=random, server_name="server", key_log=key_log.append)
    return connection, random


def _server_layout(section: int, steps: list[Step]) -> MessageLayout:
    cookie = b""
    if section == 5:
        retry = decode_handshake(_message(steps, "server", "ServerHello"))
        assert isinstance(retry, ServerHello) and retry.is_hello_retry_request
        extension = find_extension(retry.extensions, ET.COOKIE)
        assert extension is not None
        cookie = Cookie.decode(extension.data).cookie  # opaque server state: given, not derived
    return MessageLayout(
        # The trace's server sends its CCS only when the client sent a session id (section 7).
        middlebox_compatibility=False,
        server_hello_extensions=(ET.KEY_SHARE, ET.SUPPORTED_VERSIONS),
        hello_retry_extensions=(ET.KEY_SHARE, ET.COOKIE, ET.SUPPORTED_VERSIONS),
        hello_retry_cookie=cookie,
        encrypted_extensions=(
            (ET.SUPPORTED_GROUPS, _groups_body(*SETUPS[section].server_groups)),
            (ET.RECORD_SIZE_LIMIT, b"\x40\x01"),
            (ET.SERVER_NAME, b""),  # the trace's server acknowledges SNI though its certificate is named "rsa"
        ),
        coalesce_server_flight=True,
    )


def _server(section: int, steps: list[Step], key_log: list[bytes]) -> tuple[TLSConnection, ScriptedRandom]:
    certificate = decode_handshake(_message(steps, "server", "Certificate"))
    verify = decode_handshake(_message(steps, "server", "CertificateVerify"))
    assert isinstance(certificate, Certificate) and isinstance(verify, CertificateVerify)
    der = certificate.entries[0].cert_data
    public_key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    served = CertifiedKey((der,), TraceSigner(public_key, verify.signature))
    config = EngineConfig(
        SETUPS[section].server_policy,
        certificates=(served,),
        compat=Compat.rfc(),
        layout=_server_layout(section, steps),
    )
    hello = decode_handshake(_message(steps, "server", "ServerHello", 1 if section == 5 else 0))
    assert isinstance(hello, ServerHello)
    random = ScriptedRandom(hello.random, *_private_keys(steps, "server"))
    return TLSConnection(config, client=False, random=random, key_log=key_log.append), random


class _Run:
    """Both peers and every byte each one wrote."""

    def __init__(self, section: int) -> None:
        self.steps = load_section(section)
        self.client_log: list[bytes] = []
        self.server_log: list[bytes] = []
        self.client, self.client_random = _client(section, self.steps, self.client_log)
        self.server, self.server_random = _server(section, self.steps, self.server_log)
        self.wrote: dict[str, list[tuple[str, bytes]]] = {"client": [], "server": []}
        self.received: dict[str, bytes] = {"client": b"", "server": b""}

    def move(self, sender: str, data: bytes | None = None) -> bool:
        """Hand what ``sender`` wrote (or ``data``, bytes it sealed by hand) to the other side."""
        source, target = (self.client, self.server) if sender == "client" else (self.server, self.client)
        data = source.data_to_send() if data is None else data
        if data:
            self.wrote[sender].append((sender, data))
            for event in target.receive_data(data):
                if isinstance(event, DataReceived):
                    self.received["server" if sender == "client" else "client"] += event.data
                if isinstance(event, ConnectionClosed) and sender == "client":
                    self.server.close()
        return bool(data)

    def handshake(self) -> None:
        self.client.start()
        for _ in range(8):
            moved = self.move("client") | self.move("server")
            if not moved:
                break
        assert self.client.handshake_complete and self.server.handshake_complete

    def records(self, side: str) -> list[bytes]:
        direction = "client->server" if side == "client" else "server->client"
        transfers = [(direction, data) for _, data in self.wrote[side]]
        return [record.data for record in split_records(transfers)]


def _trace_records(steps: list[Step], side: str) -> list[bytes]:
    return [s.values["complete record"] for s in steps if s.side == side and s.action.startswith("send ")]


def _run(section: int) -> _Run:
    run = _Run(section)
    run.handshake()
    tickets = [s for s in run.steps if s.side == "server" and s.action.startswith("construct a NewSessionTicket")]
    for ticket in tickets:  # the engine issues none: sealed under the server's application keys
        nst = ticket.values["NewSessionTicket"]
        record = PlaintextRecord(ContentType.HANDSHAKE, nst, protection=run.server.write_protection)
        run.move("server", run.server.seal_records([record]))
    payloads = [s.values["payload"] for s in run.steps if s.action == "send application_data record"]
    for sender, payload in zip(("client", "server"), payloads, strict=False):
        (run.client if sender == "client" else run.server).send(payload)
        run.move(sender)
    run.client.close()
    run.move("client")
    run.move("server")
    return run


@pytest.mark.parametrize("section", [3, 5, 7])
def test_rfc8448_connection_from_the_state_machines(section: int) -> None:
    run = _run(section)
    for side in ("client", "server"):
        produced, expected = run.records(side), _trace_records(run.steps, side)
        for index, (ours, theirs) in enumerate(zip(produced, expected, strict=False)):
            assert ours == theirs, f"section {section}: {side} record {index} differs"
        assert len(produced) == len(expected), f"section {section}: {side} wrote {len(produced)} records"
    assert run.client_random.left == 0 and run.server_random.left == 0, "a trace random or key went unused"
    payloads = [s.values["payload"] for s in run.steps if s.action == "send application_data record"]
    if payloads:
        assert run.received["server"] == payloads[0] and run.received["client"] == payloads[1]


_SECRETS = {
    b"CLIENT_HANDSHAKE_TRAFFIC_SECRET": 'derive secret "tls13 c hs traffic"',
    b"SERVER_HANDSHAKE_TRAFFIC_SECRET": 'derive secret "tls13 s hs traffic"',
    b"CLIENT_TRAFFIC_SECRET_0": 'derive secret "tls13 c ap traffic"',
    b"SERVER_TRAFFIC_SECRET_0": 'derive secret "tls13 s ap traffic"',
    b"EXPORTER_SECRET": 'derive secret "tls13 exp master"',
}


@pytest.mark.parametrize("section", [3, 5, 7])
def test_rfc8448_secrets_in_both_key_logs(section: int) -> None:
    run = _run(section)
    hello = decode_handshake(_message(run.steps, "client", "ClientHello"))
    assert isinstance(hello, ClientHello)
    expected = sorted(
        label
        + b" "
        + hello.random.hex().encode()
        + b" "
        + find(run.steps, "server", action).values["expanded"].hex().encode()
        for label, action in _SECRETS.items()
    )
    assert sorted(run.client_log) == expected
    assert sorted(run.server_log) == expected
