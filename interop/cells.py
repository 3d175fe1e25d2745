"""The interop matrix as data: one ``Cell`` per (peer, engine role, feature, value).

A cell says how the engine and the peer are set up, what they exchange and what must
be seen; a cell that cannot work with a peer carries its ``unsupported`` reason instead
(shown in the report; its test asserts that state, it is never skipped)::

    cell = cell_by_id("openssl-server/engine-client/group=secp384r1")
    cell.engine.policy, cell.peer_side.groups, cell.expect.group

Features: ``suite``, ``group``, ``cert``, ``hrr``, ``alpn``, ``sni``, ``record`` (the
engine's ``max_record_plaintext``), ``bulk`` (1 MiB each way, sha256 compared), ``close``
(who sends close_notify first), ``defaults`` (the peer with its own default settings) and
``refuse`` (no common group, suite or signature scheme; a server that requires a client
certificate), which expect a refusal with a named alert.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from interop.files import SNI_HOST

__all__ = [
    "CELLS",
    "DECLARED",
    "FEATURES",
    "FEATURES_ALL",
    "GROUPS",
    "PEERS",
    "RECORD_SIZES",
    "REFUSALS",
    "SUITES",
    "UNSUPPORTED",
    "Cell",
    "Conversation",
    "EngineSide",
    "Expect",
    "PeerSide",
    "Refusal",
    "cell_by_id",
]

PEERS: tuple[str, ...] = ("s2n", "openssl", "gnutls", "python-ssl", "tlslite")
ROLES: tuple[str, ...] = ("client", "server")  # the engine's role; the peer plays the other
SUITES: tuple[str, ...] = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
GROUPS: tuple[str, ...] = ("x25519", "secp256r1", "secp384r1", "secp521r1")
CERTS: tuple[str, ...] = ("ecdsa-p256", "rsa-2048", "rsa-pss-2048")
RECORD_SIZES: tuple[int, ...] = (512, 2048, 8192, 16384)
FEATURES: tuple[str, ...] = ("suite", "group", "cert", "hrr", "alpn", "sni", "record", "bulk", "close", "defaults")
FEATURES_ALL: tuple[str, ...] = (*FEATURES, "refuse")

_SMALL = 4096
_RECORD_DATA = 65536
_BULK = 1 << 20
_CCM = "TLS_AES_128_CCM_SHA256"  # in no s2n-tls policy: what a peer offers to share no suite
# The scheme the engine server signs with for each certificate (its policy's first that fits), and the
# family a peer server may pick from (its own preference decides the hash: tlslite-ng takes SHA-512).
_SCHEMES = {
    "ecdsa-p256": "ecdsa_secp256r1_sha256",
    "rsa-2048": "rsa_pss_rsae_sha256",
    "rsa-pss-2048": "rsa_pss_pss_sha256",
}
_SCHEME_FAMILIES = {"ecdsa-p256": "ecdsa_secp256r1_sha256", "rsa-2048": "rsa_pss_rsae_", "rsa-pss-2048": "rsa_pss_pss_"}
# Engine (s2n) policies whose first choice is the value, for a side that chooses by its own preference.
_SUITE_POLICY = {"TLS_AES_128_GCM_SHA256": "default_tls13", "TLS_AES_256_GCM_SHA384": "20190801"}
_SHARE_POLICY = {"x25519": "20190801", "secp256r1": "default_tls13", "secp384r1": "20251113"}
_NO_X25519 = "20230317"  # secp256r1, secp384r1, secp521r1 only
_NO_ECDSA_P256_SCHEME = "20250211"  # TLS_AES_256_GCM_SHA384, secp384r1, no ecdsa_secp256r1_sha256


@dataclass(frozen=True)
class EngineSide:
    """How the engine is configured (``EngineConfig`` fields, by name)."""

    policy: str = "default_tls13"
    cert_type: str = "ecdsa-p256"  # as a server
    sni: bool = False  # server: also serves SNI_HOST's certificate; client: asks for SNI_HOST
    alpn: tuple[str, ...] = ()
    max_record: int | None = None


@dataclass(frozen=True)
class PeerSide:
    """How the peer is configured; None keeps the peer's own default (see ``peer_protocol.PeerJob``)."""

    cert_type: str = "ecdsa-p256"
    sni: bool = False  # server: also serves SNI_HOST's certificate; client: asks for SNI_HOST
    suites: tuple[str, ...] | None = None
    groups: tuple[str, ...] | None = None  # a client sends a key share for the first one only
    sigalgs: tuple[str, ...] | None = None
    alpn: tuple[str, ...] = ()
    require_client_cert: bool = False
    record_size: int | None = None
    s2n_policy: str = "default_tls13"
    defaults: bool = False


@dataclass(frozen=True)
class Conversation:
    """Bytes each way (the engine sends first) and who sends close_notify first."""

    to_peer: int = _SMALL
    to_engine: int = _SMALL
    close_first: str = "engine"


@dataclass(frozen=True)
class Refusal:
    """Who refuses the handshake and with which alert (RFC 8446 names)."""

    by: str  # "peer": the engine must raise PeerAlertError(alert); "engine": its TLSError names alert
    alert: str


@dataclass(frozen=True)
class Expect:
    """What the engine's ``info()`` (and the peer, where it reports it) must show; None: not checked."""

    cipher: str | None = None
    group: str | None = None
    signature_scheme: str | None = None  # the scheme, or the start of its name (a family: "rsa_pss_rsae_")
    alpn: str | None = None
    server_name: str | None = None
    hello_retry: bool | None = None
    record_size: int | None = None  # the largest plaintext per record the engine sends
    refusal: Refusal | None = None


@dataclass(frozen=True)
class Cell:
    """One test of the matrix; ``id`` is its pytest id."""

    peer: str
    engine_role: str
    feature: str
    value: str
    engine: EngineSide = field(default_factory=EngineSide)
    peer_side: PeerSide = field(default_factory=PeerSide)
    conversation: Conversation = field(default_factory=Conversation)
    expect: Expect = field(default_factory=Expect)
    unsupported: str | None = None
    timeout: float = 5.0

    @property
    def peer_role(self) -> str:
        """The peer's role: the other one."""
        return "server" if self.engine_role == "client" else "client"

    @property
    def row(self) -> str:
        """The report's row: ``openssl-server/engine-client``."""
        return f"{self.peer}-{self.peer_role}/engine-{self.engine_role}"

    @property
    def id(self) -> str:
        """``openssl-server/engine-client/group=secp384r1``."""
        return f"{self.row}/{self.feature}={self.value}"


# ---- what some peers cannot do, and why (the report shows these) ----

_S2N_CHACHA = (
    "s2n-tls chooses TLS_CHACHA20_POLY1305_SHA256 only where it comes first, and no s2n-tls policy "
    "(the engine's or the peer's) lists it first or alone"
)
_S2N_P521 = (
    "every s2n-tls policy lists secp521r1 after secp256r1 and secp384r1, and s2n-tls takes (or sends) the "
    "key share of the first group both sides support: no pair of policies settles on secp521r1"
)
_S2N_NO_COMMON = "no two s2n-tls TLS 1.3 policies (the engine's and the peer's) lack a common {what}"

UNSUPPORTED: dict[str, str] = {
    "s2n-server/engine-client/suite=TLS_CHACHA20_POLY1305_SHA256": _S2N_CHACHA,
    "s2n-client/engine-server/suite=TLS_CHACHA20_POLY1305_SHA256": _S2N_CHACHA,
    "s2n-server/engine-client/group=secp521r1": _S2N_P521,
    "s2n-client/engine-server/group=secp521r1": _S2N_P521,
    "s2n-server/engine-client/refuse=group": _S2N_NO_COMMON.format(what="group"),
    "s2n-client/engine-server/refuse=group": _S2N_NO_COMMON.format(what="group"),
    "s2n-server/engine-client/refuse=suite": _S2N_NO_COMMON.format(what="cipher suite"),
    "s2n-client/engine-server/refuse=suite": _S2N_NO_COMMON.format(what="cipher suite"),
    "gnutls-server/engine-client/close=peer-first": (
        "gnutls-serv --echo never closes first: it only answers the client's close_notify"
    ),
}
"""Cell id -> why it cannot run: a declared state, shown in the report, asserted by its test."""

_NO_CLIENT_AUTH = (
    "the engine has no client authentication yet: it refuses a CertificateRequest (unexpected_message), "
    "as an s2n-tls client set to S2N_CERT_AUTH_NONE does (S2N_ERR_UNEXPECTED_CERT_REQUEST, tls/s2n_handshake_io.c); "
    "one left at s2n's client default, OPTIONAL (tls/s2n_connection.c), answers with an empty Certificate"
)
_REFUSED_CERTIFICATE_REQUEST = Refusal("engine", "unexpected_message")

DECLARED: dict[str, tuple[str, Refusal]] = {
    **{
        f"{peer}-server/engine-client/refuse=client-cert": (_NO_CLIENT_AUTH, _REFUSED_CERTIFICATE_REQUEST)
        for peer in PEERS
    },
    "gnutls-server/engine-client/defaults=peer-defaults": (
        "gnutls-serv asks for a client certificate by default; " + _NO_CLIENT_AUTH,
        _REFUSED_CERTIFICATE_REQUEST,
    ),
}
"""Cell id -> (why it is unsupported, the refusal its run must show): declared, yet run and checked."""

# OpenSSL refuses a CertificateVerify with a scheme it did not offer with handshake_failure
# (tls12_check_peer_sigalg: "wrong signature type"), where GnuTLS and tlslite-ng send illegal_parameter.
_OPENSSL_REFUSES_CERTIFICATE = Refusal("peer", "handshake_failure")
REFUSALS: dict[str, Refusal] = {
    "openssl-client/engine-server/refuse=scheme": _OPENSSL_REFUSES_CERTIFICATE,
    "python-ssl-client/engine-server/refuse=scheme": _OPENSSL_REFUSES_CERTIFICATE,
    # s2n-tls signs with a scheme the client did not offer when none fits (Compat.signature_fallback's
    # reason); the engine client refuses that signature.
    "s2n-server/engine-client/refuse=scheme": Refusal("engine", "illegal_parameter"),
    # s2n-tls answers its failures with close_notify rather than the alert (tls/s2n_alerts.c).
    "s2n-client/engine-server/refuse=scheme": Refusal("peer", "close_notify"),
}
"""Cell id -> the refusal a peer answers with where it differs from the feature's usual one."""


# ---- the cells, feature by feature ----


def _suite(peer: str, role: str, suite: str) -> Cell:
    cell = Cell(peer, role, "suite", suite, expect=Expect(cipher=suite))
    if peer != "s2n":
        # The peer offers (or accepts) this suite alone; an engine server ranks it first where a policy can.
        policy = _SUITE_POLICY.get(suite, "default_tls13")
        return replace(cell, engine=EngineSide(policy=policy), peer_side=PeerSide(suites=(suite,)))
    if role == "client":  # the s2n server picks by its policy's order
        return replace(cell, peer_side=PeerSide(s2n_policy=_SUITE_POLICY.get(suite, "default_tls13")))
    return replace(cell, engine=EngineSide(policy=_SUITE_POLICY.get(suite, "default_tls13")))


def _group(peer: str, role: str, group: str) -> Cell:
    cell = Cell(peer, role, "group", group, expect=Expect(group=group))
    share_policy = _SHARE_POLICY.get(group, "default_tls13")
    if peer == "s2n":
        if role == "client":  # the engine client's first key share is for this group
            return replace(cell, engine=EngineSide(policy=share_policy))
        return replace(cell, peer_side=PeerSide(s2n_policy=share_policy))
    engine = EngineSide(policy=share_policy) if role == "client" else EngineSide()
    return replace(cell, engine=engine, peer_side=PeerSide(groups=(group,)))


def _cert(peer: str, role: str, cert_type: str) -> Cell:
    if role == "client":
        expect = Expect(signature_scheme=_SCHEME_FAMILIES[cert_type])
        return Cell(peer, role, "cert", cert_type, peer_side=PeerSide(cert_type=cert_type), expect=expect)
    expect = Expect(signature_scheme=_SCHEMES[cert_type])
    return Cell(peer, role, "cert", cert_type, engine=EngineSide(cert_type=cert_type), expect=expect)


def _hello_retry(peer: str, role: str) -> Cell:
    """The engine client's first share (secp256r1) refused, or a peer client's x25519 share the engine lacks."""
    if role == "client":
        if peer == "s2n":
            engine, peer_side, group = EngineSide(policy="20190801"), PeerSide(s2n_policy=_NO_X25519), "secp256r1"
        else:
            engine, peer_side, group = EngineSide(), PeerSide(groups=("x25519",)), "x25519"
    else:
        engine, group = EngineSide(policy=_NO_X25519), "secp256r1"
        peer_side = PeerSide(s2n_policy="20190801") if peer == "s2n" else PeerSide(groups=("x25519", "secp256r1"))
    expect = Expect(group=group, hello_retry=True)
    return Cell(peer, role, "hrr", "retry", engine=engine, peer_side=peer_side, expect=expect)


def _alpn(peer: str, role: str) -> Cell:
    """The client offers http/1.1 then h2, the server takes only h2 (a preference order RFC 7301 leaves open)."""
    server_list, client_list = ("h2",), ("http/1.1", "h2")
    engine_list, peer_list = (client_list, server_list) if role == "client" else (server_list, client_list)
    return Cell(
        peer, role, "alpn", "h2", engine=EngineSide(alpn=engine_list), peer_side=PeerSide(alpn=peer_list),
        expect=Expect(alpn="h2"),
    )  # fmt: skip


def _sni(peer: str, role: str) -> Cell:
    """The server holds a localhost certificate and one for SNI_HOST: only SNI makes it pick the second."""
    expect = Expect(server_name=SNI_HOST if role == "server" else None)
    return Cell(peer, role, "sni", SNI_HOST, engine=EngineSide(sni=True), peer_side=PeerSide(sni=True), expect=expect)


def _record(peer: str, role: str, size: int) -> Cell:
    conversation = Conversation(to_peer=_RECORD_DATA, to_engine=_RECORD_DATA)
    return Cell(
        peer, role, "record", str(size), engine=EngineSide(max_record=size), peer_side=PeerSide(record_size=size),
        conversation=conversation, expect=Expect(record_size=size),
    )  # fmt: skip


def _bulk(peer: str, role: str) -> Cell:
    # tlslite-ng's pure-Python ChaCha20-Poly1305 is its fastest cipher: 1 MiB each way fits the cell's time.
    # Even so it needs about 3.5 s on an idle core, hence more time for that peer's cells.
    side = PeerSide(suites=("TLS_CHACHA20_POLY1305_SHA256",)) if peer == "tlslite" else PeerSide()
    conversation = Conversation(to_peer=_BULK, to_engine=_BULK)
    timeout = 10.0 if peer == "tlslite" else 5.0
    return Cell(peer, role, "bulk", "1MiB", peer_side=side, conversation=conversation, timeout=timeout)


def _close(peer: str, role: str, first: str) -> Cell:
    conversation = Conversation(to_peer=16384, to_engine=16384, close_first=first)
    return Cell(peer, role, "close", f"{first}-first", conversation=conversation)


def _defaults(peer: str, role: str) -> Cell:
    return Cell(peer, role, "defaults", "peer-defaults", peer_side=PeerSide(defaults=True))


def _refuse_group(peer: str, role: str) -> Cell:
    # The engine's policy lacks x25519; the peer offers (or accepts) only x25519.
    by, alert = ("peer", "handshake_failure") if role == "client" else ("engine", "handshake_failure")
    return Cell(
        peer, role, "refuse", "group", engine=EngineSide(policy=_NO_X25519), peer_side=PeerSide(groups=("x25519",)),
        expect=Expect(refusal=Refusal(by, alert)),
    )  # fmt: skip


def _refuse_suite(peer: str, role: str) -> Cell:
    by = "peer" if role == "client" else "engine"
    return Cell(
        peer, role, "refuse", "suite", peer_side=PeerSide(suites=(_CCM,)),
        expect=Expect(refusal=Refusal(by, "handshake_failure")),
    )  # fmt: skip


def _refuse_scheme(peer: str, role: str) -> Cell:
    if role == "client":
        # The engine's policy offers no scheme for the peer's ECDSA P-256 certificate.
        engine, peer_side = EngineSide(policy=_NO_ECDSA_P256_SCHEME), PeerSide()
        refusal = Refusal("peer", "handshake_failure")
    else:
        # The peer offers only an RSA scheme; the engine serves ECDSA P-256 and signs with it anyway (as s2n-tls).
        engine = EngineSide()
        peer_side = (
            PeerSide(s2n_policy=_NO_ECDSA_P256_SCHEME) if peer == "s2n" else PeerSide(sigalgs=("rsa_pss_rsae_sha256",))
        )
        refusal = Refusal("peer", "illegal_parameter")
    return Cell(peer, role, "refuse", "scheme", engine=engine, peer_side=peer_side, expect=Expect(refusal=refusal))


def _refuse_client_cert(peer: str) -> Cell:
    """A server that requires a client certificate: the engine has no client authentication yet."""
    return Cell(peer, "client", "refuse", "client-cert", peer_side=PeerSide(require_client_cert=True))


def _row(peer: str, role: str) -> Iterator[Cell]:
    yield from (_suite(peer, role, suite) for suite in SUITES)
    yield from (_group(peer, role, group) for group in GROUPS)
    yield from (_cert(peer, role, cert_type) for cert_type in CERTS)
    yield _hello_retry(peer, role)
    yield _alpn(peer, role)
    yield _sni(peer, role)
    yield from (_record(peer, role, size) for size in RECORD_SIZES)
    yield _bulk(peer, role)
    yield from (_close(peer, role, first) for first in ("engine", "peer"))
    yield _defaults(peer, role)
    yield from (_refuse_group(peer, role), _refuse_suite(peer, role), _refuse_scheme(peer, role))
    if role == "client":
        yield _refuse_client_cert(peer)


def _declared(cell: Cell) -> Cell:
    if cell.id in DECLARED:
        reason, refusal = DECLARED[cell.id]
        return replace(cell, unsupported=reason, expect=replace(cell.expect, refusal=refusal))
    if cell.id in UNSUPPORTED:  # not run at all
        return replace(cell, unsupported=UNSUPPORTED[cell.id], expect=Expect())
    if cell.id in REFUSALS:
        return replace(cell, expect=replace(cell.expect, refusal=REFUSALS[cell.id]))
    return cell


def _matrix() -> tuple[Cell, ...]:
    return tuple(_declared(cell) for peer in PEERS for role in ROLES for cell in _row(peer, role))


CELLS: tuple[Cell, ...] = _matrix()
"""Every cell, peer by peer, the engine as client then as server."""


def cell_by_id(cell_id: str) -> Cell:
    """The cell with this id (KeyError when there is none)."""
    for cell in CELLS:
        if cell.id == cell_id:
            return cell
    raise KeyError(cell_id)
