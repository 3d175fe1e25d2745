"""A TLS 1.3 engine in Python that writes the bytes s2n-tls writes: sans-IO core, blocking sockets on top.

A client (``connect`` sends the host name as SNI and checks the certificate against it;
an IP address is checked against the certificate's IP-address SANs and not sent)::

    >>> import engine
    >>> config = engine.EngineConfig(trust_anchors=engine.load_trust_anchors("ca.pem"))  # doctest: +SKIP
    >>> with engine.connect("localhost", 8443, config, timeout=10) as tls:  # doctest: +SKIP
    ...     tls.sendall(b"ping")
    ...     reply = tls.recv_available()
    ...     info = tls.info()
    >>> info.protocol, info.cipher, info.group, info.hello_retry  # doctest: +SKIP
    ('TLSv1.3', 'TLS_AES_128_GCM_SHA256', 'x25519', False)

A server::

    >>> import socket
    >>> served = engine.load_certified_key("server.pem", "server.key")  # doctest: +SKIP
    >>> config = engine.EngineConfig(certificates=(served,), alpn=(b"http/1.1",))  # doctest: +SKIP
    >>> with socket.create_server(("127.0.0.1", 8443)) as listener:  # doctest: +SKIP
    ...     with engine.accept(listener, config, timeout=10) as tls:
    ...         tls.sendall(tls.recv_available())  # echo what the client sent first
    ...         tls.info().server_name
    'localhost'

Both write NSS key-log lines to ``$SSLKEYLOGFILE`` when it is set (or to ``key_log=``,
e.g. a ``KeyLogFile``). Every error is an ``EngineError``: ``TLSError`` (the engine
refused something and sent its alert; ``PeerAlertError`` when the peer sent one),
``TransportError`` (``TLSTimeoutError``) or ``ConfigurationError``. Without sockets,
``TLSConnection`` takes bytes and returns events and bytes (docs/engine.md, "API").

The names below are loaded on first use, so that ``import engine.wire`` (what the fuzz
targets do) does not import the whole engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config import CertifiedKey, Compat, EngineConfig
    from engine.connection import (
        AlertReceived,
        ConnectionClosed,
        ConnectionInfo,
        DataReceived,
        Event,
        HandshakeComplete,
        TLSConnection,
    )
    from engine.errors import (
        AlertDescription,
        ConfigurationError,
        EngineError,
        PeerAlertError,
        TLSError,
        TLSTimeoutError,
        TransportError,
    )
    from engine.keylog import KeyLogFile, key_log_from_env
    from engine.pem import load_certified_key, load_trust_anchors
    from engine.socket_api import TLSSocket, accept, connect

__all__ = [
    "AlertDescription",
    "AlertReceived",
    "CertifiedKey",
    "Compat",
    "ConfigurationError",
    "ConnectionClosed",
    "ConnectionInfo",
    "DataReceived",
    "EngineConfig",
    "EngineError",
    "Event",
    "HandshakeComplete",
    "KeyLogFile",
    "PeerAlertError",
    "TLSConnection",
    "TLSError",
    "TLSSocket",
    "TLSTimeoutError",
    "TransportError",
    "accept",
    "connect",
    "key_log_from_env",
    "load_certified_key",
    "load_trust_anchors",
]

# Which module defines each exported name.
_HOMES = {
    "engine.config": ("CertifiedKey", "Compat", "EngineConfig"),
    "engine.connection": (
        "AlertReceived",
        "ConnectionClosed",
        "ConnectionInfo",
        "DataReceived",
        "Event",
        "HandshakeComplete",
        "TLSConnection",
    ),
    "engine.errors": (
        "AlertDescription",
        "ConfigurationError",
        "EngineError",
        "PeerAlertError",
        "TLSError",
        "TLSTimeoutError",
        "TransportError",
    ),
    "engine.keylog": ("KeyLogFile", "key_log_from_env"),
    "engine.pem": ("load_certified_key", "load_trust_anchors"),
    "engine.socket_api": ("TLSSocket", "accept", "connect"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> object:
    """Import an exported name's module on first use (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next use is a plain lookup
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily loaded ones included."""
    return sorted({*globals(), *__all__})
