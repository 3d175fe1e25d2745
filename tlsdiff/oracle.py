"""The tiered oracle: compare what the engine and s2n did with the same input, name the first difference.

Tiers, most severe first:

- ``verdict``: one side accepts what the other rejects, or they fail at different messages;
- ``bytes``: both go on but wrote different records (first differing record, message, field path);
- ``alert``: both reject, with different alerts, or one of them silently;
- ``unsupported``: s2n did something the engine does not implement (e.g. it negotiated
  TLS 1.2); said plainly, deduplicated like any other, never hidden.

Every divergence has a signature ``tier/role/step/message/field`` and an exception class
of its own, with a stable name derived from the signature, raised from a frame of the
same name, so crash-grouping fleets (ClusterFuzz groups by exception and top frames)
keep distinct divergences apart. The oracle exempts nothing: deliberate s2n behaviours
are engine compatibility switches (engine.config.Compat).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import NoReturn

from tlsdiff.harness import Outcome, Role, Status

__all__ = [
    "Divergence",
    "DivergenceError",
    "Locator",
    "Tier",
    "compare",
    "describe_outcome",
    "divergence_error_class",
    "raise_in_named_frame",
]

_MAX_NAME = 100
# What s2n may negotiate below TLS 1.3 (s2n_bridge.info names): the engine has none of them. An
# "unknown" protocol is s2n's record of a garbage offered version, no negotiation: compared as usual.
_OLDER_VERSIONS = frozenset({"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2"})


class Tier(StrEnum):
    """How far apart the two implementations are."""

    VERDICT = "verdict"
    BYTES = "bytes"
    ALERT = "alert"
    UNSUPPORTED = "unsupported"
    # Only a run from a snapshot parted, on the s2n side: s2n restored from its own serialization did
    # otherwise than the s2n that made the handshake (lockstep.run_scenario). An s2n bug, found by the
    # lockstep driver's snapshots; the run from the start agreed.
    SNAPSHOT = "snapshot"


# Given the two outcomes, where their output first differs: (message name, field path, detail lines).
Locator = Callable[[Outcome, Outcome], tuple[str, str, tuple[str, ...]]]


@dataclass(frozen=True)
class Divergence:
    """Where and how the engine and s2n parted."""

    tier: Tier
    role: Role
    step: str
    message: str
    field_path: str
    engine: Outcome
    s2n: Outcome
    detail: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        """``tier/role/step/message/field``: what findings are grouped by."""
        return "/".join((self.tier.value, self.role.value, self.step, self.message, self.field_path))

    def error(self) -> DivergenceError:
        """An instance of this signature's own exception class."""
        return divergence_error_class(self.signature)(self.signature, self)

    def raise_error(self) -> NoReturn:
        """Raise ``error()`` from a frame named after the signature (so stack-based grouping splits it too)."""
        raise_in_named_frame(self.error())


class DivergenceError(Exception):
    """The engine and s2n parted; subclasses are made per signature by ``divergence_error_class``."""

    def __init__(self, signature: str, divergence: Divergence | None = None) -> None:
        super().__init__(signature)
        self.signature = signature
        self.divergence = divergence


def _identifier(signature: str) -> str:
    words = re.sub(r"[^0-9A-Za-z]+", "_", signature).strip("_")
    digest = hashlib.sha256(signature.encode()).hexdigest()[:8]
    kind = "Crash" if signature.startswith("crash/") else "Divergence"
    return f"{kind}_{words[:_MAX_NAME]}_{digest}"


@cache
def divergence_error_class(signature: str) -> type[DivergenceError]:
    """The exception class of ``signature`` (a divergence's or a crash's): the same name in every process."""
    return type(_identifier(signature), (DivergenceError,), {"__module__": __name__})


def raise_in_named_frame(error: DivergenceError) -> NoReturn:
    """Raise ``error`` from a frame named like its class, so the top frame differs per signature too."""
    _raiser(type(error).__name__)(error)


@cache
def _raiser(name: str) -> Callable[[BaseException], NoReturn]:
    def raiser(error: BaseException) -> NoReturn:
        raise error

    raiser.__code__ = raiser.__code__.replace(co_name=name, co_qualname=name)
    raiser.__name__ = raiser.__qualname__ = name
    return raiser


def describe_outcome(outcome: Outcome) -> str:
    """How a signature names an outcome: the error, ``peer_alert(N)``, or the status."""
    if outcome.status is Status.FAILED:
        return outcome.error or "failed"
    if outcome.status is Status.PEER_ALERT:
        return f"peer_alert({outcome.peer_alert})"
    return outcome.status.value


def _verdicts(engine: Outcome, s2n: Outcome) -> str:
    return f"engine={describe_outcome(engine)}|s2n={describe_outcome(s2n)}"


def _unsupported(divergence: Divergence) -> Divergence:
    """A difference seen once s2n is on a version the engine does not speak (the engine is TLS 1.3 only).

    From there s2n's steps (TLS 1.2 messages, their checks) have no engine counterpart: the
    divergence is reported as what it is, a missing feature, not as a verdict or bytes.
    """
    protocol = divergence.s2n.protocol
    detail = (f"s2n negotiated {protocol}; the engine implements TLS 1.3 only",)
    return Divergence(Tier.UNSUPPORTED, divergence.role, divergence.step, "ServerHello", f"{protocol} negotiation",
                      divergence.engine, divergence.s2n, detail)  # fmt: skip


def compare(role: Role, step: str, engine: Outcome, s2n: Outcome, locate: Locator) -> Divergence | None:
    """The first difference between the two outcomes of one step, or None when they agree."""
    divergence = _compare(role, step, engine, s2n, locate)
    if divergence is not None and s2n.protocol in _OLDER_VERSIONS and not _refused_the_hello(s2n):
        return _unsupported(divergence)
    return divergence


def _refused_the_hello(s2n: Outcome) -> bool:
    # s2n takes the version of a hello it then refuses as below the policy's minimum
    # (tls/s2n_client_hello.c:585-587, tls/s2n_server_hello.c:220): nothing was negotiated, and
    # the engine must refuse alike. Any other failure on an older version is s2n's TLS 1.2 code.
    return s2n.status is Status.FAILED and s2n.error == "S2N_ERR_PROTOCOL_VERSION_UNSUPPORTED"


def _compare(role: Role, step: str, engine: Outcome, s2n: Outcome, locate: Locator) -> Divergence | None:
    engine_failed, s2n_failed = engine.status is Status.FAILED, s2n.status is Status.FAILED
    if engine_failed != s2n_failed or (engine_failed and engine.last_message != s2n.last_message):
        where = s2n.last_message if s2n_failed else engine.last_message
        if engine_failed and s2n_failed:
            where = f"{engine.last_message}!={s2n.last_message}"
        return Divergence(Tier.VERDICT, role, step, where, _verdicts(engine, s2n), engine, s2n)
    if engine.status is not s2n.status:
        return Divergence(Tier.VERDICT, role, step, "state", _verdicts(engine, s2n), engine, s2n)
    if engine.output != s2n.output:
        message, field_path, detail = locate(engine, s2n)
        tier = Tier.ALERT if engine_failed else Tier.BYTES
        return Divergence(tier, role, step, message, field_path, engine, s2n, detail)
    if engine.data != s2n.data:
        detail = (f"engine received {len(engine.data)} bytes, s2n {len(s2n.data)}",)
        return Divergence(Tier.BYTES, role, step, "application_data", "data", engine, s2n, detail)
    return None
