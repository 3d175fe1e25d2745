"""One interface over an engine connection and an s2n connection, so a scenario can pair any two.

Each endpoint is built from the same inputs: role, policy, certificate type, seed,
ALPN list, the certificates a server holds (in the order it adds them) and the name a
client sends; servers sign through the shared ``KeySigner``; both draw from the seeded
stream for ``(seed, role)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from engine.config import EngineConfig
from engine.connection import ConnectionClosed, DataReceived, TLSConnection
from engine.crypto.signer import KeySigner
from engine.randomness import SeededRandomSource, StreamLabel
from s2n_bridge import Config, Connection, Mode, ServerCertificate
from tlsdiff.certs import CertSpec, certificate_for
from tlsdiff.harness import Role, Setup
from tlsdiff.harness import engine_config as harness_engine_config

__all__ = ["IMPLEMENTATIONS", "Endpoint", "EndpointSpec", "engine_config", "open_endpoint"]

IMPLEMENTATIONS = ("engine", "s2n")


@dataclass(frozen=True)
class EndpointSpec:
    """What both implementations are given."""

    implementation: str
    client: bool
    policy: str
    cert_type: str
    seed: int
    alpn: tuple[str, ...] = ()
    key_log: list[bytes] = field(default_factory=list, compare=False)
    # Server: the certificates, in the order they are added (default: ``cert_type`` for localhost).
    served: tuple[CertSpec, ...] = ()
    # Client: the SNI to send (None: none) and whether to validate the server's chain and name.
    server_name: str | None = "localhost"
    verify: bool = True

    @property
    def certificates(self) -> tuple[CertSpec, ...]:
        """The server's certificates, first added first."""
        return self.served or (CertSpec(self.cert_type),)


class Endpoint(Protocol):
    """The verbs a scenario needs."""

    def handshake_step(self) -> bool: ...
    def feed(self, data: bytes) -> None: ...
    def take_outgoing(self) -> bytes: ...
    def send(self, data: bytes) -> None: ...
    def read_available(self) -> tuple[bytes, bool]: ...
    def close(self) -> None: ...
    def describe(self) -> dict[str, str]: ...


class _S2NEndpoint:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def handshake_step(self) -> bool:
        return self._connection.negotiate()

    def feed(self, data: bytes) -> None:
        self._connection.feed(data)

    def take_outgoing(self) -> bytes:
        return self._connection.take_outgoing()

    def send(self, data: bytes) -> None:
        offset = 0
        while offset < len(data):
            offset += self._connection.send(data[offset:])

    def read_available(self) -> tuple[bytes, bool]:
        received = bytearray()
        while (chunk := self._connection.recv()) is not None:
            if chunk == b"":
                return bytes(received), True
            received += chunk
        return bytes(received), False

    def close(self) -> None:
        self._connection.shutdown()

    def describe(self) -> dict[str, str]:
        info = self._connection.info()
        return {
            "version": info.protocol,
            "cipher": info.cipher,
            "group": info.group,
            "signature_scheme": info.signature_scheme,
            "handshake_type": info.handshake_type,
            "last_message": info.last_message,
        }


class _EngineEndpoint:
    def __init__(self, connection: TLSConnection) -> None:
        self._connection = connection
        self._started = False
        self._received = b""
        self._peer_closed = False
        self._closed = False

    def handshake_step(self) -> bool:
        if not self._started:
            self._connection.start()
            self._started = True
        return self._connection.handshake_complete

    def feed(self, data: bytes) -> None:
        for event in self._connection.receive_data(data) if data else []:
            if isinstance(event, DataReceived):
                self._received += event.data
            elif isinstance(event, ConnectionClosed):
                self._peer_closed = True
                self.close()  # answer close_notify with close_notify, as s2n_shutdown does

    def take_outgoing(self) -> bytes:
        return self._connection.data_to_send()

    def send(self, data: bytes) -> None:
        self._connection.send(data)

    def read_available(self) -> tuple[bytes, bool]:
        received, self._received = self._received, b""
        return received, self._peer_closed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._connection.close()

    def describe(self) -> dict[str, str]:
        info = self._connection.info()
        return {
            "version": info.protocol,
            "signature_scheme": info.signature_scheme,
            "cipher": info.cipher,
            "group": info.group,
            "handshake_type": info.handshake_type,
            "last_message": info.last_message,
        }


def engine_config(spec: EndpointSpec) -> EngineConfig:
    """The engine configuration for ``spec``, as every harness run builds it (``tlsdiff.harness.engine_config``)."""
    role = Role.CLIENT if spec.client else Role.SERVER
    setup = Setup(role, spec.policy, spec.cert_type, spec.seed, alpn=spec.alpn, server_name=spec.server_name,
                  verify=spec.verify, served=spec.served)  # fmt: skip
    return harness_engine_config(setup)


def _s2n_config(spec: EndpointSpec) -> Config:
    if spec.client:
        ca_pem = certificate_for(spec.cert_type).ca_pem
        return Config(spec.policy, trust_pem=ca_pem, verify=spec.verify, alpn=spec.alpn, key_log=spec.key_log.append)
    served = [
        ServerCertificate(bundle.chain_pem, signer=KeySigner(bundle.private_key))
        for bundle in (certificate.bundle() for certificate in spec.certificates)
    ]
    return Config(spec.policy, certificates=served, alpn=spec.alpn, key_log=spec.key_log.append, system_trust=False)


@contextmanager
def open_endpoint(spec: EndpointSpec) -> Iterator[Endpoint]:
    """An endpoint for ``spec``, freed (s2n) when the block ends."""
    name = spec.server_name if spec.client else None
    if spec.implementation == "engine":
        label = StreamLabel.CLIENT if spec.client else StreamLabel.SERVER
        connection = TLSConnection(
            engine_config(spec),
            client=spec.client,
            random=SeededRandomSource(spec.seed, label),
            server_name=name,
            key_log=spec.key_log.append,
        )
        yield _EngineEndpoint(connection)
        return
    with ExitStack() as stack:
        config = stack.enter_context(_s2n_config(spec))
        mode = Mode.CLIENT if spec.client else Mode.SERVER
        yield _S2NEndpoint(stack.enter_context(Connection(config, mode, seed=spec.seed, server_name=name)))
