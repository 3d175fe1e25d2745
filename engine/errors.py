"""Every way the engine rejects input: ``TLSError`` subclasses, each naming its alert.

One table, in one place (CONVENTIONS.md §7): the subclass says which alert the
connection sends before it enters its error state. Anything else escaping the
engine is a bug, and a fuzz finding.

Two classes stand apart. ``UnexpectedEOFError`` is a ``TLSError`` that sends nothing
(``sends_alert`` is False): the transport ended, and s2n-tls writes no alert on EOF.
``ConfigurationError`` is *not* a ``TLSError``: it is raised when an ``EngineConfig``
or a ``TLSConnection`` is built with something that cannot work (an unknown policy, a
certificate that does not parse, a signer whose key is not the certificate's), never
for anything the peer sent, and nothing is written to the wire for it.

One family for callers: everything here derives from ``EngineError``::

    EngineError
    ├── TLSError                 input the engine rejects (each subclass names its alert)
    │   └── PeerAlertError       the peer sent a fatal alert (raised by engine.socket_api)
    ├── TransportError           the socket failed, or the peer hung up mid-connection
    │   └── TLSTimeoutError      a blocking call ran out of time
    └── ConfigurationError       also a ValueError

The sans-IO ``TLSConnection`` raises only ``TLSError`` (and ``ConfigurationError`` when
built); ``PeerAlertError`` and the transport errors come from the blocking socket API.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

__all__ = [
    "AlertDescription",
    "BadCertificateError",
    "BadRecordMacError",
    "CertificateUnknownError",
    "ConfigurationError",
    "DecodeError",
    "DecryptError",
    "EngineError",
    "HandshakeFailureError",
    "IllegalParameterError",
    "InternalError",
    "MissingExtensionError",
    "NoApplicationProtocolError",
    "PeerAlertError",
    "ProtocolVersionError",
    "RecordOverflowError",
    "TLSError",
    "TLSTimeoutError",
    "TransportError",
    "UnexpectedEOFError",
    "UnexpectedMessageError",
    "UnsupportedCertificateError",
    "UnsupportedExtensionError",
]


class AlertDescription(IntEnum):
    """TLS 1.3 alert descriptions (RFC 8446 section 6)."""

    CLOSE_NOTIFY = 0
    UNEXPECTED_MESSAGE = 10
    BAD_RECORD_MAC = 20
    RECORD_OVERFLOW = 22
    HANDSHAKE_FAILURE = 40
    BAD_CERTIFICATE = 42
    UNSUPPORTED_CERTIFICATE = 43
    CERTIFICATE_REVOKED = 44
    CERTIFICATE_EXPIRED = 45
    CERTIFICATE_UNKNOWN = 46
    ILLEGAL_PARAMETER = 47
    UNKNOWN_CA = 48
    ACCESS_DENIED = 49
    DECODE_ERROR = 50
    DECRYPT_ERROR = 51
    PROTOCOL_VERSION = 70
    INSUFFICIENT_SECURITY = 71
    INTERNAL_ERROR = 80
    INAPPROPRIATE_FALLBACK = 86
    USER_CANCELED = 90
    MISSING_EXTENSION = 109
    UNSUPPORTED_EXTENSION = 110
    UNRECOGNIZED_NAME = 112
    BAD_CERTIFICATE_STATUS_RESPONSE = 113
    UNKNOWN_PSK_IDENTITY = 115
    CERTIFICATE_REQUIRED = 116
    NO_APPLICATION_PROTOCOL = 120


class EngineError(Exception):
    """The base of every error the engine and its socket API raise (``except EngineError`` catches them all)."""


class TLSError(EngineError):
    """Input the engine rejects; ``alert`` is what it tells the peer (unless ``sends_alert`` is False)."""

    alert: AlertDescription = AlertDescription.INTERNAL_ERROR
    sends_alert: ClassVar[bool] = True
    # Set by ``TLSConnection.receive_data``: the events the records before the failing one produced
    # (data the peer sent before it is still the peer's data; s2n_recv hands it up before it fails).
    events_before: tuple[object, ...] = ()


class ConfigurationError(EngineError, ValueError):
    """A configuration that cannot work, refused when it is built; not peer input, so not a ``TLSError``.

    Raised by ``EngineConfig(...)`` (unknown policy, unusable certificate or signer,
    impossible record size or ALPN list), by ``TLSConnection(...)`` (a server without
    certificates, a server name that cannot be sent) and by ``engine.pem`` and
    ``engine.keylog`` for a file they cannot use. Nothing goes on the wire.
    """


class TransportError(EngineError):
    """The transport under TLS failed: a socket error, or the peer hung up the TCP connection
    before its close_notify (during the handshake, or mid-stream: a truncation)."""


class TLSTimeoutError(TransportError):
    """A blocking call did not finish within its timeout."""


class DecodeError(TLSError):
    """A message could not be parsed: bad length, trailing bytes, empty where not allowed."""

    alert = AlertDescription.DECODE_ERROR


class UnexpectedMessageError(TLSError):
    """A message or record arrived that the current state does not accept."""

    alert = AlertDescription.UNEXPECTED_MESSAGE


class IllegalParameterError(TLSError):
    """A field parsed but its value is not allowed here."""

    alert = AlertDescription.ILLEGAL_PARAMETER


class HandshakeFailureError(TLSError):
    """No acceptable set of parameters (suite, group, signature scheme) in common."""

    alert = AlertDescription.HANDSHAKE_FAILURE


class ProtocolVersionError(TLSError):
    """The peer does not offer TLS 1.3."""

    alert = AlertDescription.PROTOCOL_VERSION


class MissingExtensionError(TLSError):
    """A mandatory extension is absent."""

    alert = AlertDescription.MISSING_EXTENSION


class NoApplicationProtocolError(TLSError):
    """The server supports none of the application protocols (ALPN) the client offers (RFC 7301 3.2)."""

    alert = AlertDescription.NO_APPLICATION_PROTOCOL


class UnsupportedExtensionError(TLSError):
    """An extension appeared in a message that must not carry it."""

    alert = AlertDescription.UNSUPPORTED_EXTENSION


class BadRecordMacError(TLSError):
    """A protected record failed to decrypt."""

    alert = AlertDescription.BAD_RECORD_MAC


class RecordOverflowError(TLSError):
    """A record is longer than the protocol allows."""

    alert = AlertDescription.RECORD_OVERFLOW


class DecryptError(TLSError):
    """A Finished or CertificateVerify failed to verify."""

    alert = AlertDescription.DECRYPT_ERROR


class BadCertificateError(TLSError):
    """The peer's certificate chain is not acceptable."""

    alert = AlertDescription.BAD_CERTIFICATE


class UnsupportedCertificateError(TLSError):
    """The peer's certificate is of a type (key, curve, signature algorithm) that is not allowed here."""

    alert = AlertDescription.UNSUPPORTED_CERTIFICATE


class CertificateUnknownError(TLSError):
    """The peer's certificate is unacceptable for another reason (s2n: S2N_ERR_CERT_UNTRUSTED)."""

    alert = AlertDescription.CERTIFICATE_UNKNOWN


class UnexpectedEOFError(TLSError):
    """The transport ended (``receive_data(b"")``) before the handshake completed or without close_notify.

    No alert is sent (s2n-tls writes nothing when its peer hangs up); ``alert`` is
    close_notify only because every ``TLSError`` names one.
    """

    alert = AlertDescription.CLOSE_NOTIFY
    sends_alert = False


class InternalError(TLSError):
    """The engine cannot go on for a reason that is not the peer's fault."""

    alert = AlertDescription.INTERNAL_ERROR


def _alert_name(description: int) -> str:
    """``handshake_failure (40)``; an unknown code point as ``unknown (200)``."""
    try:
        name = AlertDescription(description).name.lower()
    except ValueError:
        name = "unknown"
    return f"{name} ({description})"


class PeerAlertError(TLSError):
    """The peer sent a fatal alert (or, during the handshake, a close_notify): the connection is over.

    Raised by the blocking API (``engine.socket_api``) at whatever step the alert arrives;
    nothing is sent back. ``received`` is the peer's alert: an ``AlertDescription``, or the
    plain ``int`` for a code point the engine does not know.

    >>> str(PeerAlertError(40))
    'peer sent alert handshake_failure (40)'
    """

    alert = AlertDescription.CLOSE_NOTIFY
    sends_alert = False

    def __init__(self, received: int, context: str = "") -> None:
        """``context``, when given, is appended to the message (e.g. "during the handshake")."""
        try:
            self.received: AlertDescription | int = AlertDescription(received)
        except ValueError:
            self.received = received
        self.context = context
        message = f"peer sent alert {_alert_name(received)}"
        super().__init__(f"{message} {context}" if context else message)

    def __reduce__(self) -> tuple[type[PeerAlertError], tuple[int, str]]:
        """Pickled by its arguments, not its message (an error may cross a process pool)."""
        return (type(self), (int(self.received), self.context))
