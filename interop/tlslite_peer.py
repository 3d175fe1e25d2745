"""tlslite-ng (pure Python TLS) as a peer, in a process of its own: ``python -m interop.tlslite_peer JOB_JSON``.

Its ``HandshakeSettings`` take the job's restrictions in tlslite's own names (cipher
names, curve names, hashes per signature algorithm). tlslite-ng does not validate
certificate chains: a client reports the names on the leaf it got, and the launcher
checks them.
"""

from __future__ import annotations

import socket
from pathlib import Path

from cryptography import x509
from tlslite import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.constants import CipherSuite
from tlslite.errors import TLSRemoteAlert
from tlslite.handshakesettings import Keypair

from interop.files import chain_path, key_path
from interop.peer_protocol import PeerJob, PeerReport, alert_name, peer_main

__all__ = ["TLSLitePeer", "tlslite_settings"]

_CIPHER_NAMES = {
    "TLS_AES_128_GCM_SHA256": "aes128gcm",
    "TLS_AES_256_GCM_SHA384": "aes256gcm",
    "TLS_CHACHA20_POLY1305_SHA256": "chacha20-poly1305",
    "TLS_AES_128_CCM_SHA256": "aes128ccm",
}
_ECDSA_HASHES = {
    "ecdsa_secp256r1_sha256": "sha256",
    "ecdsa_secp384r1_sha384": "sha384",
    "ecdsa_secp521r1_sha512": "sha512",
}


def _restrict_signatures(settings: HandshakeSettings, sigalgs: tuple[str, ...]) -> None:
    settings.ecdsaSigHashes = [_ECDSA_HASHES[name] for name in sigalgs if name in _ECDSA_HASHES]
    rsa = [name.split("_") for name in sigalgs if name.startswith("rsa_")]
    # rsa_pss_rsae_sha256 -> scheme "pss", hash "sha256"; rsa_pkcs1_sha256 -> "pkcs1".
    settings.rsaSchemes = sorted({"pss" if parts[1] == "pss" else "pkcs1" for parts in rsa})
    settings.rsaSigHashes = sorted({parts[-1] for parts in rsa})
    settings.more_sig_schemes = []


def tlslite_settings(job: PeerJob) -> HandshakeSettings:
    """The job's restrictions as tlslite-ng settings (TLS 1.3 only unless ``defaults``)."""
    settings = HandshakeSettings()
    if job.defaults:
        return settings
    settings.minVersion = settings.maxVersion = (3, 4)
    if job.suites is not None:
        settings.cipherNames = [_CIPHER_NAMES.get(name, name) for name in job.suites]
    if job.groups is not None:
        settings.eccCurves = list(job.groups)
        settings.keyShares = list(job.groups[:1])
        settings.dhGroups = []
    if job.sigalgs is not None:
        _restrict_signatures(settings, job.sigalgs)
    return settings


def _keypair(cert_dir: Path, cert_type: str, host: str) -> Keypair:
    chain = X509CertChain()
    chain.parsePemList(chain_path(cert_dir, cert_type, host).read_text())
    return Keypair(parsePEMKey(key_path(cert_dir, cert_type).read_text(), private=True), chain.x509List)


def _leaf_names(connection: TLSConnection) -> list[str]:
    chain = connection.session.serverCertChain
    if chain is None or not chain.x509List:
        return []
    leaf = x509.load_der_x509_certificate(bytes(chain.x509List[0].bytes))
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name) for name in names.get_values_for_type(x509.DNSName)]


class TLSLitePeer:
    """``PeerAdapter`` over ``tlslite.TLSConnection``."""

    def __init__(self) -> None:
        self._connection: TLSConnection | None = None

    def _conn(self) -> TLSConnection:
        if self._connection is None:
            raise RuntimeError("no connection yet")
        return self._connection

    def handshake(self, sock: socket.socket, job: PeerJob, report: PeerReport) -> None:
        """``handshakeServer`` (a virtual host answers for ``sni_host``) or ``handshakeClientCert``."""
        connection = self._connection = TLSConnection(sock)
        if job.record_size is not None:  # from the first record on: the handshake flight is cut too
            connection.recordSize = job.record_size
        settings = tlslite_settings(job)
        alpn = [name.encode() for name in job.alpn] or None
        cert_dir = Path(job.cert_dir)
        if job.role == "server":
            # tlslite-ng 0.8 does not choose a certificate by SNI (its virtual hosts are tried in order,
            # their names unused): with sni_host it serves that name's certificate alone.
            served = _keypair(cert_dir, job.cert_type, job.sni_host or "localhost")
            chain = X509CertChain(served.certificates)
            connection.handshakeServer(
                certChain=chain, privateKey=served.key, settings=settings, alpn=alpn, reqCert=job.require_client_cert
            )
            report.server_name = connection.session.serverName or None
        else:
            connection.handshakeClientCert(serverName=job.server_name, settings=settings, alpn=alpn)
            report.leaf_names = _leaf_names(connection)
        report.cipher = CipherSuite.ietfNames.get(connection.session.cipherSuite)
        protocol = connection.session.appProto
        report.alpn = bytes(protocol).decode() if protocol else None

    def send(self, data: bytes) -> None:
        """``write``."""
        self._conn().write(data)

    def recv(self) -> bytes:
        """``read``: b"" on close_notify (an abrupt close raises ``TLSAbruptCloseError``)."""
        return bytes(self._conn().read(max=65536))

    def close_notify(self) -> bool:
        """``close`` (close_notify, then the engine's answer); tlslite-ng already answered one it read."""
        connection = self._conn()
        if connection.closed:
            return False  # read() answered the engine's close_notify with ours (tlsrecordlayer._getNextRecord)
        connection.closeSocket = False  # the socket belongs to run_peer; tlslite waits for the answer on it
        connection.close()
        return True

    def alert_of(self, error: BaseException) -> str | None:
        """The alert tlslite-ng received (``TLSRemoteAlert``)."""
        if not isinstance(error, TLSRemoteAlert):
            return None
        return alert_name(error.description)

    def after_failure(self) -> None:
        """Nothing: the library sent its alert when it failed."""


if __name__ == "__main__":
    raise SystemExit(peer_main(TLSLitePeer))
