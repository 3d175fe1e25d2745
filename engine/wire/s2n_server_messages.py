"""The server's handshake messages as an s2n-tls client parses them (``Compat.lenient_server_messages``).

s2n's handlers read what they need from the message and never check that nothing is
left (tls/s2n_handshake_io.c ``s2n_handshake_message_process`` runs the handler on the
whole message and wipes it): bytes after the last field they read are ignored. The
transcript still hashes the whole message.

- ServerHello (tls/s2n_server_hello.c ``s2n_server_hello_parse``): the fixed fields as
  the codec reads them, then the extensions block as ``s2n_extension_list_parse`` reads
  it (``read_s2n_extension_block``: fewer than two bytes mean no extensions, only types
  s2n parses must not repeat); anything after it ignored.
- EncryptedExtensions (tls/s2n_encrypted_extensions.c ``s2n_encrypted_extensions_recv``):
  the same extensions block, anything after it ignored.
- Certificate (tls/s2n_server_cert.c ``s2n_server_cert_recv``): context and certificate
  list as the codec reads them, except that each entry's extensions block is read as
  ``s2n_extension_list_parse`` reads it (tls/s2n_x509_validator.c:618, the same
  ``read_s2n_extension_block``: only types s2n parses must not repeat); anything after the
  list ignored.
- CertificateVerify (tls/s2n_tls13_certificate_verify.c ``s2n_tls13_cert_verify_recv``):
  scheme and signature; anything after the signature ignored.

Finished is not lenient in the same way: s2n takes the whole message as the MAC
(tls/s2n_server_finished.c:84) and compares it, so the codec's reading matches, except
that s2n keeps its length in a ``uint8_t``: a Finished of 256 bytes more than the MAC
is read as its first (MAC-sized) bytes, and accepted when they match. That is an s2n
bug (a truncation, not a choice), not modelled: the engine refuses the message.
"""

from __future__ import annotations

from engine.wire.codec import wire_fields
from engine.wire.handshake import (
    Certificate,
    CertificateEntry,
    CertificateVerify,
    EncryptedExtensions,
    HandshakeMessage,
    HandshakeType,
    ServerHello,
    decode_handshake_body,
    read_s2n_extension_block,
)
from engine.wire.reader import Reader

__all__ = ["decode_server_message_as_s2n"]

# legacy_version, random, legacy_session_id_echo, cipher_suite, legacy_compression_method.
_SERVER_HELLO_FIXED = 5


def _certificate(reader: Reader) -> Certificate:
    """Context and entries; each entry's cert_data as the codec reads it, its extensions as s2n does."""
    context = wire_fields(Certificate)[0].form.read(reader)
    chain = reader.sub_reader(3)
    cert_data = wire_fields(CertificateEntry)[0].form
    entries: list[CertificateEntry] = []
    while chain.remaining:
        der = cert_data.read(chain)
        entries.append(CertificateEntry(der, read_s2n_extension_block(chain)[0]))
    return Certificate(context, tuple(entries))


def decode_server_message_as_s2n(msg_type: int, body: bytes | memoryview) -> HandshakeMessage:
    """Decode a message a server sends as s2n's client does; other types as ``decode_handshake_body``."""
    reader = Reader(body)
    if msg_type == HandshakeType.SERVER_HELLO:
        fixed = {field.name: field.form.read(reader) for field in wire_fields(ServerHello)[:_SERVER_HELLO_FIXED]}
        extensions, present = read_s2n_extension_block(reader)
        return ServerHello(**fixed, extensions=extensions, extensions_present=present)
    if msg_type == HandshakeType.ENCRYPTED_EXTENSIONS:
        return EncryptedExtensions(read_s2n_extension_block(reader)[0])
    if msg_type == HandshakeType.CERTIFICATE:
        return _certificate(reader)
    if msg_type == HandshakeType.CERTIFICATE_VERIFY:
        return CertificateVerify(**{field.name: field.form.read(reader) for field in wire_fields(CertificateVerify)})
    return decode_handshake_body(msg_type, body)
