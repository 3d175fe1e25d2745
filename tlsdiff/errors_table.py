"""One table relating the engine's ``TLSError`` classes to s2n-tls's error names where they mean the same.

s2n answers almost every fatal error with a close_notify (tls/s2n_alerts.c), so the wire
alone rarely says *why* a side gave up; the error names do. Each meaning below names
the engine class and the s2n errors (``s2n_strerror_name``) that stand for it, read from
s2n's sources (tls/s2n_alerts.c and the ``POSIX_ENSURE``/``S2N_ERROR`` sites of each
check). A finding shows both names and whether they share a meaning.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["MEANINGS", "meaning_of", "same_meaning"]

MEANINGS: MappingProxyType[str, tuple[str, tuple[str, ...]]] = MappingProxyType(
    {
        # meaning: (engine class, s2n error names)
        "malformed": ("DecodeError", ("S2N_ERR_BAD_MESSAGE", "S2N_ERR_DECODE_CERTIFICATE",
                                      "S2N_ERR_STUFFER_OUT_OF_DATA", "S2N_ERR_SAFETY", "S2N_ERR_BAD_KEY_SHARE",
                                      "S2N_ERR_NULL")),
        "unexpected": ("UnexpectedMessageError", ("S2N_ERR_BAD_MESSAGE", "S2N_ERR_UNEXPECTED_CERT_REQUEST",
                                                  "S2N_ERR_BAD_CONTENT_TYPE", "S2N_ERR_MISSING_CERT_REQUEST")),
        "illegal_parameter": ("IllegalParameterError", ("S2N_ERR_BAD_MESSAGE", "S2N_ERR_INVALID_HELLO_RETRY",
                                                        "S2N_ERR_BAD_KEY_SHARE", "S2N_ERR_ECDHE_UNSUPPORTED_CURVE",
                                                        "S2N_ERR_DUPLICATE_EXTENSION")),
        "no_common_parameters": ("HandshakeFailureError", ("S2N_ERR_CIPHER_NOT_SUPPORTED",
                                                           "S2N_ERR_NO_VALID_SIGNATURE_SCHEME",
                                                           "S2N_ERR_ECDHE_UNSUPPORTED_CURVE",
                                                           "S2N_ERR_INVALID_SIGNATURE_SCHEME")),
        "protocol_version": ("ProtocolVersionError", ("S2N_ERR_PROTOCOL_VERSION_UNSUPPORTED",
                                                      "S2N_ERR_BAD_MESSAGE")),
        "missing_extension": ("MissingExtensionError", ("S2N_ERR_MISSING_EXTENSION",)),
        "unsupported_extension": ("UnsupportedExtensionError", ("S2N_ERR_UNSUPPORTED_EXTENSION",)),
        "bad_record_mac": ("BadRecordMacError", ("S2N_ERR_DECRYPT",)),
        "record_overflow": ("RecordOverflowError", ("S2N_ERR_RECORD_LIMIT", "S2N_ERR_MAX_INNER_PLAINTEXT_SIZE",
                                                    "S2N_ERR_BAD_MESSAGE")),
        "verify_failed": ("DecryptError", ("S2N_ERR_VERIFY_SIGNATURE", "S2N_ERR_BAD_MESSAGE")),
        "bad_certificate": ("BadCertificateError", ("S2N_ERR_CERT_INVALID", "S2N_ERR_DECODE_CERTIFICATE",
                                                    "S2N_ERR_CERT_MAX_CHAIN_DEPTH_EXCEEDED")),
        "unsupported_certificate": ("UnsupportedCertificateError", ("S2N_ERR_CERT_TYPE_UNSUPPORTED",
                                                                    "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT")),
        "untrusted_certificate": ("CertificateUnknownError", ("S2N_ERR_CERT_UNTRUSTED",
                                                              "S2N_ERR_CERT_INVALID_HOSTNAME")),
        "internal": ("InternalError", ("S2N_ERR_SAFETY", "S2N_ERR_NULL")),
    }
)  # fmt: skip


def meaning_of(error: str) -> str:
    """The meaning of an engine class name; for an s2n name, its meanings joined by "|" ("" when unknown)."""
    meanings = [meaning for meaning, (engine, s2n) in MEANINGS.items() if error == engine or error in s2n]
    return "|".join(meanings)


def same_meaning(engine_error: str, s2n_error: str) -> bool:
    """Whether the engine's error class and s2n's error name stand for the same reason."""
    return any(engine == engine_error and s2n_error in s2n for engine, s2n in MEANINGS.values())
