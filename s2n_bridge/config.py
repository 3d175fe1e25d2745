"""``Config``: an s2n-tls config (policy, certificates, trust, ALPN, callbacks), freed deterministically.

>>> from s2n_bridge import Config  # doctest: +SKIP
>>> with Config("default_tls13", trust_pem=ca_pem) as client_config:
...     ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from engine.crypto.signer import Signer
from s2n_bridge._native import native
from s2n_bridge.errors import S2NError, S2NUsageError, error_from_errno
from s2n_bridge.rng import outside_stream, selecting

__all__ = ["ClientAuth", "Config", "KeyLogSink", "ServerCertificate"]

KeyLogSink = Callable[[bytes], None]
"""Receives NSS key log lines (secrets!): the only way keys leave the bridge."""


class ClientAuth(Enum):
    """Whether a server asks for a client certificate."""

    NONE = "none"
    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True)
class ServerCertificate:
    """A certificate chain to present, with either its private key or a ``Signer``.

    With ``signer`` set, only the public chain is loaded into s2n and every
    signature goes through s2n's async private-key callback to the signer.
    """

    chain_pem: bytes
    key_pem: bytes | None = None
    signer: Signer | None = None


class Config:
    """An owned ``struct s2n_config`` and the certificates loaded into it.

    Peers are verified against ``trust_pem`` when given, else against the system trust
    store, which ``system_trust=False`` leaves out (a server without client auth never
    uses it, and loading it costs tens of milliseconds).

    ``serializable=True`` lets its established connections be snapshot with
    ``Connection.serialize()`` and restored with ``Connection.deserialize()``.
    """

    def __init__(
        self,
        policy: str = "default_tls13",
        *,
        certificates: Sequence[ServerCertificate] = (),
        trust_pem: bytes | None = None,
        verify: bool = True,
        verify_host: Callable[[str], bool] | None = None,
        alpn: Sequence[str] = (),
        client_auth: ClientAuth = ClientAuth.NONE,
        key_log: KeyLogSink | None = None,
        session_ticket_key: bytes | None = None,
        system_trust: bool = True,
        serializable: bool = False,
    ) -> None:
        self._ffi, self._lib = native()
        self._ptr: Any = self._ffi.NULL
        self._chains: list[Any] = []
        self._handle = self._ffi.new_handle(self)
        self._clock_offset = self._ffi.new("uint64_t *", 0)
        self.policy = policy
        self.serializable = serializable
        self._signers: dict[int, Signer] = {}
        self._key_log_sink = key_log
        self._verify_host_callback = verify_host
        # Draws made while configuring (a test signature at key load, ticket keys)
        # come from the outside stream, so they never shift a connection's bytes.
        previous = selecting(outside_stream())
        try:
            self._ptr = self._checked_pointer(self._lib.s2n_config_new_minimal(), "s2n_config_new_minimal")
            self._check(self._lib.s2n_config_set_cipher_preferences(self._ptr, policy.encode()), "set policy")
            clock = self._lib.tlsdiff_monotonic_clock
            self._check(self._lib.s2n_config_set_monotonic_clock(self._ptr, clock, self._clock_offset), "set clock")
            for certificate in certificates:
                self._add_certificate(certificate)
            self._set_trust(trust_pem, verify, verify_host, system_trust=system_trust)
            self._set_options(alpn, client_auth, key_log, session_ticket_key)
            if serializable:
                # s2n refuses to serialize unless the config names a format version before the
                # handshake; V1 is the only one (tls/s2n_config.c:1338, api/s2n.h:3980).
                version = self._lib.S2N_SERIALIZED_CONN_V1
                self._check(self._lib.s2n_config_set_serialization_version(self._ptr, version), "serialization")
        except BaseException:
            self.close()
            raise
        finally:
            self._lib.tlsdiff_select(previous)

    @property
    def pointer(self) -> Any:
        """The ``struct s2n_config *``; valid until ``close()``."""
        if self._ptr == self._ffi.NULL:
            raise S2NUsageError("S2N_ERR_NULL", "config is closed", call="Config.pointer")
        return self._ptr

    def _check(self, result: int, call: str) -> None:
        if result < 0:
            raise error_from_errno(self._ffi, self._lib, self._lib.s2n_errno_location()[0], call)

    def _checked_pointer(self, pointer: Any, call: str) -> Any:
        if pointer == self._ffi.NULL:
            raise error_from_errno(self._ffi, self._lib, self._lib.s2n_errno_location()[0], call)
        return pointer

    def _add_certificate(self, certificate: ServerCertificate) -> None:
        lib = self._lib
        chain = self._checked_pointer(lib.s2n_cert_chain_and_key_new(), "s2n_cert_chain_and_key_new")
        self._chains.append(chain)
        chain_pem = self._ffi.from_buffer(certificate.chain_pem)
        if certificate.signer is not None:
            result = lib.s2n_cert_chain_and_key_load_public_pem_bytes(chain, chain_pem, len(chain_pem))
        elif certificate.key_pem is not None:
            key_pem = self._ffi.from_buffer(certificate.key_pem)
            result = lib.s2n_cert_chain_and_key_load_pem_bytes(chain, chain_pem, len(chain_pem), key_pem, len(key_pem))
        else:
            raise S2NUsageError("S2N_ERR_INVALID_ARGUMENT", "a certificate needs key_pem or signer", call="Config")
        self._check(result, "load certificate")
        self._check(lib.s2n_config_add_cert_chain_and_key_to_store(self._ptr, chain), "add certificate")
        if certificate.signer is not None:
            self._signers[self._address(chain)] = certificate.signer
            self._check(lib.s2n_config_set_async_pkey_callback(self._ptr, lib.tlsdiff_py_async_pkey), "async pkey")

    def advance_clock(self, nanoseconds: int) -> None:
        """Move this config's monotonic clock forward (s2n's timers, e.g. the blinding delay)."""
        self._clock_offset[0] += nanoseconds

    def _address(self, pointer: Any) -> int:
        return int(self._ffi.cast("uintptr_t", pointer))

    def signer_for(self, chain: Any) -> Signer | None:
        """The signer registered for a loaded chain (``s2n_connection_get_selected_cert``)."""
        return self._signers.get(self._address(chain))

    def _set_trust(
        self,
        trust_pem: bytes | None,
        verify: bool,
        verify_host: Callable[[str], bool] | None,
        *,
        system_trust: bool,
    ) -> None:
        # s2n_config_new() is s2n_config_new_minimal() plus the system trust store.
        if trust_pem is not None:
            self._check(self._lib.s2n_config_add_pem_to_trust_store(self._ptr, trust_pem), "add trust anchor")
        elif system_trust:
            self._check(self._lib.s2n_config_load_system_certs(self._ptr), "load system trust store")
        if not verify:
            self._check(self._lib.s2n_config_disable_x509_verification(self._ptr), "disable verification")
        if verify_host is not None:
            callback = self._lib.tlsdiff_py_verify_host
            self._check(
                self._lib.s2n_config_set_verify_host_callback(self._ptr, callback, self._handle),
                "verify host",
            )

    def _set_options(
        self,
        alpn: Sequence[str],
        client_auth: ClientAuth,
        key_log: KeyLogSink | None,
        ticket_key: bytes | None,
    ) -> None:
        lib = self._lib
        if alpn:
            protocols = [self._ffi.new("char[]", name.encode()) for name in alpn]
            array = self._ffi.new("const char *[]", protocols)
            self._check(lib.s2n_config_set_protocol_preferences(self._ptr, array, len(protocols)), "set ALPN")
        auth = {
            ClientAuth.NONE: lib.S2N_CERT_AUTH_NONE,
            ClientAuth.REQUIRED: lib.S2N_CERT_AUTH_REQUIRED,
            ClientAuth.OPTIONAL: lib.S2N_CERT_AUTH_OPTIONAL,
        }[client_auth]
        self._check(lib.s2n_config_set_client_auth_type(self._ptr, auth), "set client auth")
        if key_log is not None:
            self._check(lib.s2n_config_set_key_log_cb(self._ptr, lib.tlsdiff_py_key_log, self._handle), "key log")
        if ticket_key is not None:
            self._enable_tickets(ticket_key)

    def _enable_tickets(self, ticket_key: bytes) -> None:
        self._check(self._lib.s2n_config_set_session_tickets_onoff(self._ptr, 1), "enable tickets")
        name = self._ffi.new("uint8_t[]", b"tlsdiff")
        key = self._ffi.new("uint8_t[]", ticket_key)
        result = self._lib.s2n_config_add_ticket_crypto_key(self._ptr, name, 7, key, len(ticket_key), 0)
        self._check(result, "add ticket key")

    def _key_log(self, line: bytes) -> None:
        if self._key_log_sink is not None:
            self._key_log_sink(line)

    def _verify_host(self, host_name: str) -> bool:
        # A callback that raises accepts nothing, as in the engine (engine.handshake.host_check): an
        # exception must not cross the C frame, where cffi would print it and answer 0 anyway.
        try:
            return self._verify_host_callback is not None and bool(self._verify_host_callback(host_name))
        except Exception:
            return False

    def close(self) -> None:
        """Free the config and its certificates (idempotent); connections using it must be closed first."""
        errors: list[S2NError] = []
        if self._ptr != self._ffi.NULL:
            if self._lib.s2n_config_free(self._ptr) < 0:
                errors.append(error_from_errno(self._ffi, self._lib, self._lib.s2n_errno_location()[0], "free"))
            self._ptr = self._ffi.NULL
        for chain in self._chains:
            self._lib.s2n_cert_chain_and_key_free(chain)
        self._chains.clear()
        if errors:
            raise errors[0]

    def __enter__(self) -> Config:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A safety net only: the bridge's own code always closes explicitly.
        if getattr(self, "_ptr", None) is not None and self._ptr != self._ffi.NULL:
            self.close()
