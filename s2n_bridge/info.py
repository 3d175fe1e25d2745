"""What an s2n connection negotiated, read back through s2n's getters, with s2n's own names."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

# One shape for both implementations' snapshots: the engine's class, so the two compare field by field.
from engine.connection import ConnectionInfo, Progress
from engine.crypto.signer import SignatureScheme

if TYPE_CHECKING:
    from s2n_bridge.connection import Connection

__all__ = ["ConnectionInfo", "Progress", "read_info", "read_progress", "selected_signature_scheme"]

# api/s2n.h:77-107: 0 is S2N_UNKNOWN_PROTOCOL_VERSION (nothing chosen yet: "NONE", as the engine says), 20 is SSLv2.
_PROTOCOLS = {0: "NONE", 20: "SSLv2", 30: "SSLv3", 31: "TLSv1.0", 32: "TLSv1.1", 33: "TLSv1.2", 34: "TLSv1.3"}


def _text(ffi: Any, pointer: Any) -> str | None:
    # A peer's server name or ALPN protocol may hold any bytes: undecodable ones become surrogates,
    # as the engine keeps them (found by server_diff: a UnicodeDecodeError out of info()).
    return None if pointer == ffi.NULL else str(ffi.string(pointer).decode("utf-8", "surrogateescape"))


@cache
def _scheme_table(lib: Any) -> dict[tuple[int, int], SignatureScheme]:
    prefixes = {
        lib.S2N_TLS_SIGNATURE_ECDSA: ("ECDSA_SECP256R1", "ECDSA_SECP384R1", "ECDSA_SECP521R1"),
        lib.S2N_TLS_SIGNATURE_RSA_PSS_RSAE: ("RSA_PSS_RSAE",) * 3,
        lib.S2N_TLS_SIGNATURE_RSA_PSS_PSS: ("RSA_PSS_PSS",) * 3,
        lib.S2N_TLS_SIGNATURE_RSA: ("RSA_PKCS1",) * 3,
    }
    hashes = (
        (lib.S2N_TLS_HASH_SHA256, "SHA256"),
        (lib.S2N_TLS_HASH_SHA384, "SHA384"),
        (lib.S2N_TLS_HASH_SHA512, "SHA512"),
    )
    return {
        (signature, hash_id): SignatureScheme[f"{names[index]}_{hash_name}"]
        for signature, names in prefixes.items()
        for index, (hash_id, hash_name) in enumerate(hashes)
    }


def selected_signature_scheme(ffi: Any, lib: Any, conn: Any, *, client_cert: bool) -> SignatureScheme | None:
    """The scheme s2n chose for the server's (or, with ``client_cert``, the client's) CertificateVerify."""
    signature = ffi.new("s2n_tls_signature_algorithm *")
    digest = ffi.new("s2n_tls_hash_algorithm *")
    if client_cert:
        ok = lib.s2n_connection_get_selected_client_cert_signature_algorithm(conn, signature) == 0
        ok = ok and lib.s2n_connection_get_selected_client_cert_digest_algorithm(conn, digest) == 0
    else:
        ok = lib.s2n_connection_get_selected_signature_algorithm(conn, signature) == 0
        ok = ok and lib.s2n_connection_get_selected_digest_algorithm(conn, digest) == 0
    return _scheme_table(lib).get((signature[0], digest[0])) if ok else None


def _group(ffi: Any, lib: Any, conn: Any) -> str:
    name = ffi.new("const char **")
    if lib.s2n_connection_get_key_exchange_group(conn, name) == 0 and name[0] != ffi.NULL:
        return str(ffi.string(name[0]).decode())
    return "NONE"


def read_progress(connection: Connection) -> Progress:
    """Protocol, handshake type and last message: three getters, where ``read_info`` makes ten."""
    ffi, lib, conn = connection._ffi, connection._lib, connection.pointer
    return Progress(
        _PROTOCOLS.get(lib.s2n_connection_get_actual_protocol_version(conn), "unknown"),
        _text(ffi, lib.s2n_connection_get_handshake_type_name(conn)) or "NONE",
        _text(ffi, lib.s2n_connection_get_last_message_name(conn)) or "NONE",
    )


def read_info(connection: Connection) -> ConnectionInfo:
    """Read everything at once from a live connection."""
    ffi, lib, conn = connection._ffi, connection._lib, connection.pointer
    scheme = selected_signature_scheme(ffi, lib, conn, client_cert=False)
    protocol, handshake_type, last_message = read_progress(connection)
    return ConnectionInfo(
        protocol=protocol,
        cipher=_text(ffi, lib.s2n_connection_get_cipher(conn)) or "NONE",
        group=_group(ffi, lib, conn),
        signature_scheme=scheme.name.lower() if scheme is not None else "NONE",
        handshake_type=handshake_type,
        last_message=last_message,
        alpn=_text(ffi, lib.s2n_get_application_protocol(conn)),
        server_name=_text(ffi, lib.s2n_get_server_name(conn)),
        wire_bytes_in=int(lib.s2n_connection_get_wire_bytes_in(conn)),
        wire_bytes_out=int(lib.s2n_connection_get_wire_bytes_out(conn)),
    )
