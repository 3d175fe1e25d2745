"""Helpers for the blocking-API tests: PEM files of the test certificates, loopback listeners, peers in threads.

with loopback() as listener, Peer(lambda: accept(listener, server_config(tmp_path))) as server:
    with connect("localhost", port_of(listener), client_config(tmp_path), timeout=5) as tls:
        ...
    server.result()   # what the peer returned, or its exception re-raised
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

from engine import Compat, EngineConfig, load_certified_key, load_trust_anchors
from tlsdiff.atomic import write_atomic
from tlsdiff.certs import certificate_for

__all__ = [
    "JOIN_TIMEOUT",
    "Peer",
    "client_config",
    "loopback",
    "pem_files",
    "port_of",
    "server_config",
]

JOIN_TIMEOUT = 20.0
"""How long a test waits for its peer thread: a hang becomes a failure, not a stuck run."""

_T = TypeVar("_T")


def pem_files(directory: Path, cert_type: str = "ecdsa-p256") -> tuple[Path, Path, Path]:
    """The test certificate's chain, key and CA written as PEM files in ``directory``: (cert, key, ca)."""
    bundle = certificate_for(cert_type)
    paths = (directory / f"{cert_type}.pem", directory / f"{cert_type}.key", directory / "ca.pem")
    for path, data in zip(paths, (bundle.chain_pem, bundle.key_pem, bundle.ca_pem), strict=True):
        # By rename: a peer thread writing the same files never lets a reader see a truncated one.
        write_atomic(path, data)
    return paths


def server_config(directory: Path, cert_type: str = "ecdsa-p256", **options: Any) -> EngineConfig:
    """A server configuration with the test certificate, loaded from PEM files."""
    cert, key, _ = pem_files(directory, cert_type)
    return EngineConfig(certificates=(load_certified_key(cert, key),), **options)


def client_config(directory: Path, cert_type: str = "ecdsa-p256", *, compat: Compat | None = None) -> EngineConfig:
    """A client configuration trusting the test CA (loaded from its PEM file)."""
    _, _, ca = pem_files(directory, cert_type)
    return EngineConfig(trust_anchors=load_trust_anchors(ca), compat=compat or Compat.s2n())


@contextmanager
def loopback() -> Iterator[socket.socket]:
    """A listening TCP socket on 127.0.0.1, on a free port."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener


def port_of(listener: socket.socket) -> int:
    """The port ``listener`` listens on."""
    return int(listener.getsockname()[1])


class Peer(Generic[_T]):
    """``run`` in a thread from ``with`` on; ``result()`` joins it and returns or re-raises."""

    def __init__(self, run: Callable[[], _T]) -> None:
        self._run = run
        self._outcome: list[_T] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._target, daemon=True)

    def _target(self) -> None:
        try:
            self._outcome.append(self._run())
        except BaseException as error:  # handed to the test thread by result()
            self._error.append(error)

    def __enter__(self) -> Peer[_T]:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._thread.join(JOIN_TIMEOUT)

    def result(self) -> _T:
        """What ``run`` returned (its exception re-raised); a peer still running after JOIN_TIMEOUT fails."""
        self._thread.join(JOIN_TIMEOUT)
        if self._thread.is_alive():
            raise AssertionError(f"the peer thread did not finish within {JOIN_TIMEOUT} s")
        if self._error:
            raise self._error[0]
        return self._outcome[0]
