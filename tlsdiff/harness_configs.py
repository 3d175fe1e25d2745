"""The configs behind the harness's endpoints (``tlsdiff.harness``), each built once per setup.

An s2n config costs tens of milliseconds and an engine config loads certificates and keys:
a fuzz run makes thousands of connections of a few setups, so both are cached by the setup
with the seed left out (the seed belongs to connections). One signer per key serves both
implementations: in lockstep they sign the same digest with the same seeded salt, so the
second signature of a pair comes from the signer's memo.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engine.config import CertifiedKey, Compat, EngineConfig, MessageLayout
from engine.crypto.signer import KeySigner
from s2n_bridge import Config, ServerCertificate
from tlsdiff.certs import CertSpec, trust_anchors

if TYPE_CHECKING:
    from tlsdiff.harness import Setup

__all__ = [
    "COMPAT_MODES",
    "CachedConfig",
    "cached_s2n_config",
    "engine_config",
    "s2n_config",
]

COMPAT_MODES = {"s2n": Compat.s2n(), "rfc": Compat.rfc()}


# ---- engine ----


@cache
def _certified_key(spec: CertSpec) -> CertifiedKey:
    leaf = x509.load_pem_x509_certificate(spec.bundle().chain_pem).public_bytes(Encoding.DER)
    return CertifiedKey((leaf,), _signer(spec))


@cache
def _signer(spec: CertSpec) -> KeySigner:
    return KeySigner(spec.bundle().private_key)


def engine_config(setup: Setup) -> EngineConfig:
    """The engine configuration for ``setup``, built once and shared by every connection of it."""
    # The seed belongs to connections, not configs: without it a fuzzer's new seed is a cache hit.
    return _engine_config(replace(setup, seed=0))


@cache
def _engine_config(setup: Setup) -> EngineConfig:
    alpn = tuple(name.encode() for name in setup.alpn)
    common = EngineConfig(setup.policy, compat=COMPAT_MODES[setup.compat], layout=setup.layout, alpn=alpn)
    if setup.is_client:
        anchors = tuple(x509.load_pem_x509_certificate(pem) for pem in trust_anchors(setup.trust, setup.cert_type))
        return replace(common, trust_anchors=anchors, verify=setup.verify, verify_host=setup.verify_host)
    return replace(common, certificates=tuple(_certified_key(certificate) for certificate in setup.certificates))


# ---- s2n ----


class _KeyLogRouter:
    """A cached s2n config logs to whichever connection of it is current (``sink``)."""

    def __init__(self) -> None:
        self.sink: list[bytes] | None = None

    def __call__(self, line: bytes) -> None:
        if self.sink is not None:
            self.sink.append(line)


@dataclass
class CachedConfig:
    """An s2n config and the key-log router its connections share."""

    config: Config
    router: _KeyLogRouter


def cached_s2n_config(setup: Setup) -> CachedConfig:
    """The s2n config of ``setup`` and its key-log router, built on first use."""
    # s2n has one behaviour: the engine's switches and layout do not give it another config, nor does the seed.
    return _built_s2n_config(replace(setup, compat="s2n", layout=MessageLayout(), seed=0))


@cache
def _built_s2n_config(setup: Setup) -> CachedConfig:
    router = _KeyLogRouter()
    if setup.is_client:
        trust_pem = b"".join(trust_anchors(setup.trust, setup.cert_type)) or None
        config = Config(
            setup.policy, trust_pem=trust_pem, verify=setup.verify, verify_host=setup.verify_host, alpn=setup.alpn,
            key_log=router, system_trust=False, serializable=True,
        )  # fmt: skip
        return CachedConfig(config, router)
    served = [
        ServerCertificate(certificate.bundle().chain_pem, signer=_signer(certificate))
        for certificate in setup.certificates
    ]
    # Serializable: lockstep snapshots established connections (it changes nothing else but
    # renegotiation and kTLS, which the harness never uses: tls/s2n_config.c:1230, tls/s2n_ktls.c:153).
    config = Config(
        setup.policy, certificates=served, alpn=setup.alpn, key_log=router, system_trust=False, serializable=True
    )
    return CachedConfig(config, router)


def s2n_config(setup: Setup) -> Config:
    """The s2n config of the harness's s2n endpoints of ``setup`` (built once), e.g. for one on a socket."""
    return cached_s2n_config(setup).config
