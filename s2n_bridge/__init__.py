"""Bridge to the C library s2n-tls, built from pinned source by ``s2n_bridge.build``.

The extension is loaded (and s2n initialised) on first use, not at import.
"""

from s2n_bridge.client_hello import parse_client_hello
from s2n_bridge.config import ClientAuth, Config, KeyLogSink, ServerCertificate
from s2n_bridge.connection import Connection, Mode, RecordSize
from s2n_bridge.errors import (
    S2NAlertError,
    S2NBlockedError,
    S2NClosedError,
    S2NError,
    S2NInternalError,
    S2NIOError,
    S2NProtocolError,
    S2NUsageError,
)
from s2n_bridge.info import ConnectionInfo
from s2n_bridge.pair import Direction, HandshakeStalledError, InMemoryPair, Transfer, tcp_handshake
from s2n_bridge.rng import DrawLog

__all__ = [
    "ClientAuth",
    "Config",
    "Connection",
    "ConnectionInfo",
    "Direction",
    "DrawLog",
    "HandshakeStalledError",
    "InMemoryPair",
    "KeyLogSink",
    "Mode",
    "RecordSize",
    "S2NAlertError",
    "S2NBlockedError",
    "S2NClosedError",
    "S2NError",
    "S2NIOError",
    "S2NInternalError",
    "S2NProtocolError",
    "S2NUsageError",
    "ServerCertificate",
    "Transfer",
    "parse_client_hello",
    "tcp_handshake",
]
