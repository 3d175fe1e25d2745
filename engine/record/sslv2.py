"""An SSLv2 CLIENT-HELLO read as s2n-tls's server reads one (``Compat.s2n_record_framing``).

s2n speaks no SSLv2, but it reads an SSLv2-format ClientHello as a first record (RFC 5246
appendix E.2): ``tls/s2n_record_read.c:29-91`` takes msg_type and version out of the record
header, ``tls/s2n_client_hello.c:832-874`` (``s2n_sslv2_client_hello_parse``) the rest.
The layout after the 2-byte record length::

    msg_type (1) | version (2) | cipher_spec_length (2) | session_id_length (2)
    | challenge_length (2) | cipher_specs | session_id | challenge

s2n's checks, in its order: cipher_spec_length nonzero and a multiple of 3 (:845-846),
challenge_length at most 32 (:854), then the three fields must be there (:857-873: its
``S2N_ERR_NULL``, ``S2N_ERR_BAD_MESSAGE``, ``S2N_ERR_STUFFER_OUT_OF_DATA``); an empty body
is refused before (:216, ``s2n_collect_client_hello``). A session id of any length is read
(only one of 1 to 32 bytes is kept), and bytes after the challenge are ignored. Every
refusal is a ``DecodeError`` here (s2n sends its generic close_notify for each).

>>> hello = read_sslv2_client_hello(bytes.fromhex("01" "0301" "0003" "0000" "0002" "00002f" "abcd" "ff"))
>>> hex(hello.version), hello.cipher_specs.hex(), hello.session_id, hello.challenge.hex()
('0x301', '00002f', b'', 'abcd')
>>> read_sslv2_client_hello(bytes.fromhex("01" "0303" "0004" "0000" "0000" "00002f00"))
Traceback (most recent call last):
...
engine.errors.DecodeError: SSLv2 cipher_spec_length 4 is not a nonzero multiple of 3
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import DecodeError
from engine.wire.reader import Reader

__all__ = ["SSLV2_CLIENT_HELLO", "SSLv2ClientHello", "read_sslv2_client_hello"]

SSLV2_CLIENT_HELLO = 1
"""The msg_type of an SSLv2 CLIENT-HELLO (s2n's ``SSLv2_CLIENT_HELLO``; any other is refused)."""

_CIPHER_SPEC_SIZE = 3  # S2N_SSLv2_CIPHER_SUITE_LEN
_MAX_CHALLENGE = 32  # S2N_TLS_RANDOM_DATA_LEN: the challenge fills the end of the client random


@dataclass(frozen=True, slots=True)
class SSLv2ClientHello:
    """The fields s2n keeps of an SSLv2 CLIENT-HELLO; ``version`` is the wire value (0x0301 for TLS 1.0)."""

    version: int
    cipher_specs: bytes
    session_id: bytes
    challenge: bytes


def read_sslv2_client_hello(content: bytes | memoryview) -> SSLv2ClientHello:
    """An SSLv2 record's content (from its msg_type on) as ``s2n_sslv2_client_hello_parse`` reads it.

    The caller has checked msg_type (tls/s2n_handshake_io.c:1527); ``content`` always holds
    msg_type and version, which s2n reads from the 5 bytes of its record header.
    """
    reader = Reader(content)
    reader.bytes(1)  # msg_type
    version = reader.uint(2)
    if not reader.remaining:
        raise DecodeError("SSLv2 CLIENT-HELLO without a body")
    cipher_spec_length = reader.uint(2)
    if cipher_spec_length == 0 or cipher_spec_length % _CIPHER_SPEC_SIZE:
        raise DecodeError(f"SSLv2 cipher_spec_length {cipher_spec_length} is not a nonzero multiple of 3")
    session_id_length = reader.uint(2)
    challenge_length = reader.uint(2)
    if challenge_length > _MAX_CHALLENGE:
        raise DecodeError(f"SSLv2 challenge_length {challenge_length} is over {_MAX_CHALLENGE}")
    cipher_specs = bytes(reader.bytes(cipher_spec_length))
    session_id = bytes(reader.bytes(session_id_length))
    challenge = bytes(reader.bytes(challenge_length))
    return SSLv2ClientHello(version, cipher_specs, session_id, challenge)
