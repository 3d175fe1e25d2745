"""Record protection for one direction and one epoch (RFC 8446 section 5.2 and 5.3).

A ``RecordProtection`` owns the AEAD, the IV and the 64-bit sequence number of one
traffic secret. ``seal`` builds a TLSCiphertext record; ``open`` checks and strips one.
"""

from __future__ import annotations

import copy

from cryptography.exceptions import InvalidTag

from engine.crypto.key_schedule import TrafficKeys
from engine.crypto.suites import CipherSuite
from engine.errors import BadRecordMacError, InternalError, RecordOverflowError, UnexpectedMessageError

__all__ = ["MAX_CIPHERTEXT", "MAX_INNER_PLAINTEXT", "MAX_PLAINTEXT", "RecordProtection"]

MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256
MAX_INNER_PLAINTEXT = MAX_PLAINTEXT + 1  # content and its type; padding does not raise the limit
_APPLICATION_DATA = 23
_SEQUENCE_LIMIT = 1 << 64


class RecordProtection:
    """AEAD protection with one traffic key; the sequence number starts at 0."""

    def __init__(self, suite: CipherSuite, keys: TrafficKeys) -> None:
        self.suite = suite
        self.keys = keys
        self._aead = suite.aead(keys.key)
        self._iv = int.from_bytes(keys.iv, "big")
        self.sequence = 0

    def __deepcopy__(self, memo: dict[int, object]) -> RecordProtection:
        # Everything but the sequence number is immutable (the AEAD object keeps no state
        # between calls and cannot be copied): a copy shares it.
        return copy.copy(self)

    def _nonce(self) -> bytes:
        # = https://www.rfc-editor.org/rfc/rfc8446#section-5.3
        # = type=implementation
        ## The per-record nonce for the AEAD construction is formed as follows:
        ## 1.  The 64-bit record sequence number is encoded in network byte order and padded to the left with zeros
        ##     to iv_length.
        ## 2.  The padded sequence number is XORed with either the static client_write_iv or server_write_iv.
        if self.sequence >= _SEQUENCE_LIMIT:
            raise InternalError("record sequence number would wrap")
        nonce = (self._iv ^ self.sequence).to_bytes(self.suite.iv_len, "big")
        self.sequence += 1
        return nonce

    def seal(self, content_type: int, content: bytes, padding: int = 0, *, legacy_version: int = 0x0303) -> bytes:
        """Encrypt ``TLSInnerPlaintext(content, type, zeros)`` into a whole record.

        ``legacy_version`` is the outer header's (always 0x0303 from the engine itself;
        the fuzzing harness may seal others, see ``engine.instrument``).
        """
        return b"".join(self.seal_parts(content_type, content, padding, legacy_version=legacy_version))

    def seal_parts(
        self, content_type: int, content: bytes | memoryview, padding: int = 0, *, legacy_version: int = 0x0303
    ) -> tuple[bytes, bytes]:
        """``seal``'s record as (header, encrypted body): the record layer queues the two apart, which saves a copy."""
        trailer = bytes([content_type]) + bytes(padding)
        inner = b"".join((content, trailer))  # the one copy of the content before it is encrypted
        length = len(inner) + self.suite.tag_len
        header = bytes([_APPLICATION_DATA]) + legacy_version.to_bytes(2, "big") + length.to_bytes(2, "big")
        return header, self._aead.encrypt(self._nonce(), inner, header)

    def open(
        self, header: bytes, encrypted_record: bytes | memoryview, *, max_inner: int = MAX_INNER_PLAINTEXT
    ) -> tuple[int, bytes]:
        """Decrypt one record's body (bytes, or a view of them); return (real content type, content).

        ``max_inner`` caps the decrypted ``TLSInnerPlaintext`` (content, type and padding).
        """
        # = https://www.rfc-editor.org/rfc/rfc8446#section-5.2
        # = type=implementation
        ## If a TLSCiphertext record arrives with a length greater than 2^14 + 256 octets, the recipient
        ## MUST terminate the connection with a "record_overflow" alert.
        if len(encrypted_record) > MAX_CIPHERTEXT:
            raise RecordOverflowError(f"protected record of {len(encrypted_record)} bytes")
        try:
            inner = self._aead.decrypt(self._nonce(), encrypted_record, header)
        except InvalidTag:
            # = https://www.rfc-editor.org/rfc/rfc8446#section-5.2
            # = type=implementation
            ## If the decryption fails, the receiver MUST terminate the connection with a "bad_record_mac" alert.
            raise BadRecordMacError("record failed to decrypt") from None
        # = https://www.rfc-editor.org/rfc/rfc8446#section-5.4
        # = type=implementation
        ## The presence of padding does not change the overall record size limitations: the full encoded
        ## TLSInnerPlaintext MUST NOT exceed 2^14 + 1 octets.
        if len(inner) > max_inner:
            raise RecordOverflowError(f"decrypted TLSInnerPlaintext of {len(inner)} bytes")
        return _strip_padding(inner)


def _strip_padding(inner: bytes) -> tuple[int, bytes]:
    # Records mostly come unpadded: then rstrip's copy of the whole plaintext is not needed.
    end = len(inner) if inner and inner[-1] else len(inner.rstrip(b"\x00"))
    # = https://www.rfc-editor.org/rfc/rfc8446#section-5.4
    # = type=implementation
    ## If a receiving implementation does not find a non-zero octet in the cleartext, it MUST terminate the
    ## connection with an "unexpected_message" alert.
    if end == 0:
        raise UnexpectedMessageError("protected record has no content type")
    if end - 1 > MAX_PLAINTEXT:
        raise RecordOverflowError("decrypted record longer than 2^14 bytes")
    return inner[end - 1], inner[: end - 1]
