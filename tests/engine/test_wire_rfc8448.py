"""RFC 8448 traces: parse every recorded handshake message, check its fields, write it back byte for byte.

The hex constants are copied from RFC 8448 (Example Handshake Traces for TLS 1.3),
sections 3 to 7, as the handshake messages appear there (header included).
"""

from __future__ import annotations

import hashlib
import random

import pytest

from engine.wire.extensions import (
    Cookie,
    EarlyDataNewSessionTicket,
    Extension,
    ExtensionType,
    KeyShareClientHello,
    KeyShareHelloRetryRequest,
    KeyShareServerHello,
    NamedGroup,
    OfferedPsks,
    PreSharedKeyServerHello,
    ProtocolVersion,
    PskKeyExchangeModes,
    RenegotiationInfo,
    ServerNameList,
    SignatureScheme,
    SignatureSchemeList,
    SupportedGroups,
    SupportedVersionsClient,
    SupportedVersionsServer,
    find_extension,
)
from engine.wire.handshake import (
    HELLO_RETRY_REQUEST_RANDOM,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    CipherSuite,
    ClientHello,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    HandshakeBuffer,
    HandshakeType,
    NewSessionTicket,
    ServerHello,
    decode_handshake,
    encode_handshake,
)

# RFC 8448 section 3: ClientHello (196 octets)
SIMPLE_CLIENT_HELLO = bytes.fromhex(
    "010000c003036660261ff947cea49cce6cfad687f457cf1b14531ba14131a0e8f309a1d0b9c4000006130113031302010000"
    "910000000b0009000006736572766572ff01000100000a00140012001d001700180019010001010102010301040023000000"
    "3300260024001d00204cfdfcd178b784bf328cae793b136f2aedce005ff183d7bb1495207236647037002b0003020304000d"
    "0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001"
)

# RFC 8448 section 3: ServerHello (90 octets)
SIMPLE_SERVER_HELLO = bytes.fromhex(
    "0200005603031274991495cf425857262dde2299342c315afba9b64a87d552515614e01b045d00130100002e00330024001d"
    "0020c7bb6bdfc26350b929a08a41a76ddac210b096868d960c4845987dc3a7fa650a002b00020304"
)

# RFC 8448 section 3: EncryptedExtensions (40 octets)
SIMPLE_ENCRYPTED_EXTENSIONS = bytes.fromhex(
    "080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000"
)

# RFC 8448 section 3: Certificate (445 octets)
SIMPLE_CERTIFICATE = bytes.fromhex(
    "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a0603"
    "5504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a06035504"
    "03130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6"
    "988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0cc"
    "b0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002"
    "c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d0609"
    "2a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8"
    "f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3e"
    "b7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de10000"
)

# RFC 8448 section 3: CertificateVerify (136 octets)
SIMPLE_CERTIFICATE_VERIFY = bytes.fromhex(
    "0f00008408040080ace0af8e87d7c63cc9dbe7dcc12ff83bd55df0ccda9bf4e5a0f70100d9bc4d25aa684fd9d347642c9422"
    "22526e163e3b0fba312b10e9b67eb0ac9c2be5fef490f81d7827e3bc12fa027ab439e71cc8459c14b94a8f3506ec44547d6c"
    "23e19cc7f9d5e0d1f595108fc240f5b0842c485a321487c4950377a52e917294715567cd"
)

# RFC 8448 section 3: Finished (36 octets), server
SIMPLE_SERVER_FINISHED = bytes.fromhex("140000204c92b1b256d861a1830167827d3e288d1a76f03484e9ec886d4ff66149cbec2f")

# RFC 8448 section 3: Finished (36 octets), client
SIMPLE_CLIENT_FINISHED = bytes.fromhex("1400002080a2c0d6cbc21078dba30affbf091929278edc832db4bfa1c811c9e8c67da9bb")

# RFC 8448 section 3: NewSessionTicket (205 octets)
SIMPLE_NEW_SESSION_TICKET = bytes.fromhex(
    "040000c90000001e933d093202000000b2f35edae4e60404d6f40fa17f000000008393d163fb4f5f105fe2056caeb32ac700"
    "7070045931026db07d58dd58090d629af59ecb7fba353d5d9653a708fbcf0f515c1b82db6b08977179dfc684d22fcf7bd5c1"
    "2222ab63ffd9d2bc46176d144ae98ad93416894822ac5064065f92995a6f052fa3a731703657817ea7a8de73148661768f7f"
    "62098fb45c0a9dde04a9cf1aa4206f13dd055df3ed5fa681bbf876e362ad9c0a68d2b5266c79aa806cbfe6113b0008002a00"
    "0400000400"
)

# RFC 8448 section 4: ClientHello payload (512 octets)
RESUMED_CLIENT_HELLO = bytes.fromhex(
    "010001fc0303750e184c0c28d365ffab68b74cb202fdb495ad19f527c6e6cebec35b443b9b35000006130113031302010001"
    "cd0000000b0009000006736572766572ff01000100000a00140012001d001700180019010001010102010301040033002600"
    "24001d00205839e32b2b0e47211ff3098d998ed0379a07b299b846585b7fab62c61357d174002a0000002b0003020304000d"
    "0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c0002400100150057"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000002900dd00b800b2f35edae4e6"
    "0404d6f40fa17f000000008393d163fb4f5f105fe2056caeb32ac7007070045931026db07d58dd58090d629af59ecb7fba35"
    "3d5d9653a708fbcf0f515c1b82db6b08977179dfc684d22fcf7bd5c12222ab63ffd9d2bc46176d144ae98ad93416894822ac"
    "5064065f92995a6f052fa3a731703657817ea7a8de73148661768f7f62098fb45c0a9dde04a9cf1aa4206f13dd055df3ed5f"
    "a681bbf876e362ad9c0a68d2b5266c79aa806cbfe6113b933d0937002120718cd8f22e8ed71d1a23f7c88f63d45487afe581"
    "57cbc57e66bd1323e41a8cd8"
)

# RFC 8448 section 4: ServerHello (96 octets)
RESUMED_SERVER_HELLO = bytes.fromhex(
    "0200005c0303f79e0c03e63dcb0fafdc441f79065e0409a2ef2360f3c6549682ffb72395f9d2001301000034002900020000"
    "00330024001d00207abd53026c45bd7be12f6c4db9d226a9b1527a76c825c07722201a314ae90d21002b00020304"
)

# RFC 8448 section 4: EncryptedExtensions (44 octets)
RESUMED_ENCRYPTED_EXTENSIONS = bytes.fromhex(
    "080000280026000a00140012001d00170018001901000101010201030104001c0002400100000000002a0000"
)

# RFC 8448 section 4: EndOfEarlyData (4 octets)
RESUMED_END_OF_EARLY_DATA = bytes.fromhex("05000000")

# RFC 8448 section 5: ClientHello (180 octets)
HRR_CLIENT_HELLO_1 = bytes.fromhex(
    "010000b00303c05333f1e168f732427e91815a093c990115f161130c68e9be3e563610ee9487000006130113031302010000"
    "810000000b0009000006736572766572ff01000100000a00080006001d00170018003300260024001d0020f7dead1d79f3fd"
    "2379002489bbe689b3b16bbc419c812fa617a6fb0a99a17117002b0003020304000d0020001e040305030603020308040805"
    "080604010501060102010402050206020202002d00020101001c00024001"
)

# RFC 8448 section 5: ServerHello (176 octets)
HRR_HELLO_RETRY_REQUEST = bytes.fromhex(
    "020000ac0303cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c001301000084003300020017"
    "002c00740072c8a457e4f6d9b8f485a6fbb2000000000944e8ada9c6414d2412d66659d64678003023f9de457f1f09e31dd3"
    "22cfe0dc9147b7dc3ec0c577b010a0b0a8f28784226e0f061797aa37e95da2c006d12af13e0745b0d04918d14d429a0d5080"
    "8857736687baff6d07c4682a007c62c3cb4afcb3002b00020304"
)

# RFC 8448 section 5: ClientHello (512 octets)
HRR_CLIENT_HELLO_2 = bytes.fromhex(
    "010001fc0303c05333f1e168f732427e91815a093c990115f161130c68e9be3e563610ee9487000006130113031302010001"
    "cd0000000b0009000006736572766572ff01000100000a00080006001d001700180033004700450017004104a8d6b4fc93bf"
    "b595d867814c45689f74708a33714a9340fe795d7958ef47fd56039baa382032f78d4c4bca4f24f65560b53b1c076be41bcc"
    "099856758545a898002b0003020304000d0020001e0403050306030203080408050806040105010601020104020502060202"
    "02002c00740072c8a457e4f6d9b8f485a6fbb2000000000944e8ada9c6414d2412d66659d64678003023f9de457f1f09e31d"
    "d322cfe0dc9147b7dc3ec0c577b010a0b0a8f28784226e0f061797aa37e95da2c006d12af13e0745b0d04918d14d429a0d50"
    "808857736687baff6d07c4682a007c62c3cb4afcb3002d00020101001c00024001001500af00000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000"
)

# RFC 8448 section 6: ClientHello (192 octets)
CLIENT_AUTH_CLIENT_HELLO = bytes.fromhex(
    "010000bc0303c141f6850063dfa8609a25962e9b9a820ba7778adc50953ac2a69cd304780f13000006130113031302010000"
    "8d0000000b0009000006736572766572ff01000100000a00140012001d001700180019010001010102010301040033002600"
    "24001d00208797aae7a09bb2c11a727d658d23b6b81f103ae658113b20d8081664efba5c07002b0003020304000d0020001e"
    "040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001"
)

# RFC 8448 section 6: ServerHello (90 octets)
CLIENT_AUTH_SERVER_HELLO = bytes.fromhex(
    "02000056030372aee1ac0dfe2c69fc852576b2b2a69a8d5fd45387d8d76b34d9a0c2580eef2500130100002e00330024001d"
    "002036ba81e8649a3d86689820861adb6f51267ba7b19f78eede04a9379957428631002b00020304"
)

# RFC 8448 section 6: CertificateRequest (43 octets)
CLIENT_AUTH_CERTIFICATE_REQUEST = bytes.fromhex(
    "0d000027000024000d0020001e040305030603020308040805080604010501060102010402050206020202"
)

# RFC 8448 section 6: Certificate (319 octets), client
CLIENT_AUTH_CLIENT_CERTIFICATE = bytes.fromhex(
    "0b00013b000001370001323082012e3081d5a003020102020107300a06082a8648ce3d04030230133111300f060355040313"
    "086563647361323536301e170d3136303733303031323430305a170d3236303733303031323430305a30133111300f060355"
    "0403130865636473613235363059301306072a8648ce3d020106082a8648ce3d0301070342000408d530161575f4cfe7f154"
    "ee3448180086001e88431a79ee62ee6e2f83ef38ba61e9fb37f34e007a7df4d2f5b56d1f04ece45d621f468406f5c3a15158"
    "948dd0a31a301830090603551d1304023000300b0603551d0f040403020780300a06082a8648ce3d04030203480030450221"
    "00df30fd4507f5edd22c1a6ff86db479ca693feeca3b71b3f9ef556b2937c0594d022062e2a47250d320fea83c7e2dcb5b76"
    "a50e0200c09adbd13fee946e513e011d110000"
)

# RFC 8448 section 6: CertificateVerify (78 octets), client
CLIENT_AUTH_CLIENT_CERTIFICATE_VERIFY = bytes.fromhex(
    "0f00004a04030046304402202db4567831312879703ffa3d6e65f2990e097b7b16b48c3fc47230080d75383c0220525654b9"
    "7e703bebfd5a16c2eda7059e7f5671ff103602fddc670fea14636fdd"
)

# RFC 8448 section 7: ClientHello (224 octets)
COMPAT_CLIENT_HELLO = bytes.fromhex(
    "010000dc030334be3c0e652c61b1090c0a1e6980933aafdbead07e5ab9a6215aae7a2cd28fa5208e4c8896fb278839424e58"
    "76df5ff22cdbb6a070ee4801a7c822d04a7648d77c00061301130313020100008d0000000b0009000006736572766572ff01"
    "000100000a00140012001d00170018001901000101010201030104003300260024001d0020f202d8341fd355fcbea0918f1b"
    "ff8ea9c0758bba29105fce18ad7edbb1f2e353002b0003020304000d0020001e040305030603020308040805080604010501"
    "060102010402050206020202002d00020101001c00024001"
)

# RFC 8448 section 7: ServerHello (122 octets)
COMPAT_SERVER_HELLO = bytes.fromhex(
    "020000760303a46b7d819906bd95d1ab068ae1de21ba62828d34d34294d18434814914d2348d208e4c8896fb278839424e58"
    "76df5ff22cdbb6a070ee4801a7c822d04a7648d77c130100002e00330024001d0020efe3845b1e8f27cd3ac6d080d0767044"
    "c612a141f2194fe74aec61b9af5df26a002b00020304"
)


ALL_MESSAGES = {
    name: value
    for name, value in globals().items()
    if isinstance(value, bytes) and name.startswith(("SIMPLE_", "RESUMED_", "HRR_", "CLIENT_AUTH_", "COMPAT_"))
}


def extension_data(extensions: tuple[Extension, ...], extension_type: int) -> bytes:
    """The data of the extension of ``extension_type``, which must be present."""
    found = find_extension(extensions, extension_type)
    assert found is not None, f"no extension {ExtensionType(extension_type).name}"
    return found.data


@pytest.mark.parametrize("name", sorted(ALL_MESSAGES))
def test_every_message_round_trips(name: str) -> None:
    data = ALL_MESSAGES[name]
    message = decode_handshake(data)
    assert message.msg_type == data[0]
    assert encode_handshake(message) == data


def test_client_hello_fields() -> None:
    client_hello = decode_handshake(CLIENT_AUTH_CLIENT_HELLO)
    assert isinstance(client_hello, ClientHello)
    assert client_hello.legacy_version == ProtocolVersion.TLS1_2
    assert client_hello.random == bytes.fromhex("c141f6850063dfa8609a25962e9b9a820ba7778adc50953ac2a69cd304780f13")
    assert client_hello.legacy_session_id == b""
    assert client_hello.cipher_suites == (
        CipherSuite.TLS_AES_128_GCM_SHA256,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_AES_256_GCM_SHA384,
    )
    assert client_hello.legacy_compression_methods == b"\x00"
    assert client_hello.extensions_present
    assert [extension.extension_type for extension in client_hello.extensions] == [
        ExtensionType.SERVER_NAME,
        ExtensionType.RENEGOTIATION_INFO,
        ExtensionType.SUPPORTED_GROUPS,
        ExtensionType.KEY_SHARE,
        ExtensionType.SUPPORTED_VERSIONS,
        ExtensionType.SIGNATURE_ALGORITHMS,
        ExtensionType.PSK_KEY_EXCHANGE_MODES,
        ExtensionType.RECORD_SIZE_LIMIT,
    ]
    extensions = client_hello.extensions
    assert ServerNameList.decode(extension_data(extensions, ExtensionType.SERVER_NAME)).host_name == b"server"
    assert (
        RenegotiationInfo.decode(extension_data(extensions, ExtensionType.RENEGOTIATION_INFO)).renegotiated_connection
        == b""
    )
    groups = SupportedGroups.decode(extension_data(extensions, ExtensionType.SUPPORTED_GROUPS)).named_group_list
    assert groups[:4] == (NamedGroup.X25519, NamedGroup.SECP256R1, NamedGroup.SECP384R1, NamedGroup.SECP521R1)
    assert groups[4:] == (0x0100, 0x0101, 0x0102, 0x0103, 0x0104)
    shares = KeyShareClientHello.decode(extension_data(extensions, ExtensionType.KEY_SHARE)).client_shares
    assert [share.group for share in shares] == [0x001D]
    assert shares[0].key_exchange.hex() == "8797aae7a09bb2c11a727d658d23b6b81f103ae658113b20d8081664efba5c07"
    versions = SupportedVersionsClient.decode(extension_data(extensions, ExtensionType.SUPPORTED_VERSIONS)).versions
    assert versions == (0x0304,)
    schemes = SignatureSchemeList.decode(extension_data(extensions, ExtensionType.SIGNATURE_ALGORITHMS))
    assert schemes.supported_signature_algorithms[:3] == (
        SignatureScheme.ECDSA_SECP256R1_SHA256,
        SignatureScheme.ECDSA_SECP384R1_SHA384,
        SignatureScheme.ECDSA_SECP521R1_SHA512,
    )
    assert len(schemes.supported_signature_algorithms) == 15
    assert PskKeyExchangeModes.decode(extension_data(extensions, ExtensionType.PSK_KEY_EXCHANGE_MODES)).ke_modes == (1,)


def test_server_hello_fields() -> None:
    server_hello = decode_handshake(SIMPLE_SERVER_HELLO)
    assert isinstance(server_hello, ServerHello)
    assert not server_hello.is_hello_retry_request
    assert server_hello.legacy_version == 0x0303
    assert server_hello.legacy_session_id_echo == b""
    assert server_hello.cipher_suite == CipherSuite.TLS_AES_128_GCM_SHA256
    assert server_hello.legacy_compression_method == 0
    assert [extension.extension_type for extension in server_hello.extensions] == [51, 43]
    share = KeyShareServerHello.decode(extension_data(server_hello.extensions, ExtensionType.KEY_SHARE)).server_share
    assert share.group == NamedGroup.X25519
    assert share.key_exchange.hex() == "c7bb6bdfc26350b929a08a41a76ddac210b096868d960c4845987dc3a7fa650a"
    selected = SupportedVersionsServer.decode(extension_data(server_hello.extensions, ExtensionType.SUPPORTED_VERSIONS))
    assert selected.selected_version == ProtocolVersion.TLS1_3


# = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
# = type=test
## Upon receiving a message with type server_hello, implementations MUST
## first examine the Random value and, if it matches this value, process
## it as described in Section 4.1.4).
def test_hello_retry_request() -> None:
    assert hashlib.sha256(b"HelloRetryRequest").digest() == HELLO_RETRY_REQUEST_RANDOM
    retry = decode_handshake(HRR_HELLO_RETRY_REQUEST)
    assert isinstance(retry, ServerHello)
    assert retry.is_hello_retry_request
    key_share = KeyShareHelloRetryRequest.decode(extension_data(retry.extensions, ExtensionType.KEY_SHARE))
    assert key_share.selected_group == NamedGroup.SECP256R1
    cookie = Cookie.decode(extension_data(retry.extensions, ExtensionType.COOKIE)).cookie
    second = decode_handshake(HRR_CLIENT_HELLO_2)
    assert isinstance(second, ClientHello)
    assert Cookie.decode(extension_data(second.extensions, ExtensionType.COOKIE)).cookie == cookie
    shares = KeyShareClientHello.decode(extension_data(second.extensions, ExtensionType.KEY_SHARE)).client_shares
    assert [share.group for share in shares] == [NamedGroup.SECP256R1]


def test_server_flight_messages() -> None:
    encrypted_extensions = decode_handshake(SIMPLE_ENCRYPTED_EXTENSIONS)
    assert isinstance(encrypted_extensions, EncryptedExtensions)
    assert [extension.extension_type for extension in encrypted_extensions.extensions] == [10, 28, 0]
    certificate = decode_handshake(SIMPLE_CERTIFICATE)
    assert isinstance(certificate, Certificate)
    assert certificate.certificate_request_context == b""
    assert len(certificate.entries) == 1
    assert certificate.entries[0].cert_data[:2] == b"\x30\x82"
    assert len(certificate.entries[0].cert_data) == 432
    assert certificate.entries[0].extensions == ()
    verify = decode_handshake(SIMPLE_CERTIFICATE_VERIFY)
    assert isinstance(verify, CertificateVerify)
    assert verify.algorithm == SignatureScheme.RSA_PSS_RSAE_SHA256
    assert len(verify.signature) == 128
    finished = decode_handshake(SIMPLE_SERVER_FINISHED)
    assert isinstance(finished, Finished)
    assert finished.verify_data.hex() == "4c92b1b256d861a1830167827d3e288d1a76f03484e9ec886d4ff66149cbec2f"


def test_new_session_ticket() -> None:
    ticket = decode_handshake(SIMPLE_NEW_SESSION_TICKET)
    assert isinstance(ticket, NewSessionTicket)
    assert ticket.ticket_lifetime == 30
    assert ticket.ticket_age_add == 0x933D0932
    assert ticket.ticket_nonce == b"\x00\x00"
    assert len(ticket.ticket) == 178
    early_data = extension_data(ticket.extensions, ExtensionType.EARLY_DATA)
    assert EarlyDataNewSessionTicket.decode(early_data).max_early_data_size == 1024


def test_resumption_messages() -> None:
    client_hello = decode_handshake(RESUMED_CLIENT_HELLO)
    assert isinstance(client_hello, ClientHello)
    assert client_hello.extensions[-1].extension_type == ExtensionType.PRE_SHARED_KEY
    offered = OfferedPsks.decode(client_hello.extensions[-1].data)
    assert len(offered.identities) == 1
    assert len(offered.identities[0].identity) == 178
    assert [len(binder) for binder in offered.binders] == [32]
    server_hello = decode_handshake(RESUMED_SERVER_HELLO)
    assert isinstance(server_hello, ServerHello)
    selected = PreSharedKeyServerHello.decode(extension_data(server_hello.extensions, ExtensionType.PRE_SHARED_KEY))
    assert selected.selected_identity == 0
    encrypted_extensions = decode_handshake(RESUMED_ENCRYPTED_EXTENSIONS)
    assert isinstance(encrypted_extensions, EncryptedExtensions)
    assert extension_data(encrypted_extensions.extensions, ExtensionType.EARLY_DATA) == b""
    assert decode_handshake(RESUMED_END_OF_EARLY_DATA) == EndOfEarlyData()


def test_client_authentication_messages() -> None:
    request = decode_handshake(CLIENT_AUTH_CERTIFICATE_REQUEST)
    assert isinstance(request, CertificateRequest)
    assert request.certificate_request_context == b""
    assert [extension.extension_type for extension in request.extensions] == [ExtensionType.SIGNATURE_ALGORITHMS]
    verify = decode_handshake(CLIENT_AUTH_CLIENT_CERTIFICATE_VERIFY)
    assert isinstance(verify, CertificateVerify)
    assert verify.algorithm == SignatureScheme.ECDSA_SECP256R1_SHA256


def test_compatibility_mode_session_id_is_echoed() -> None:
    client_hello = decode_handshake(COMPAT_CLIENT_HELLO)
    server_hello = decode_handshake(COMPAT_SERVER_HELLO)
    assert isinstance(client_hello, ClientHello)
    assert isinstance(server_hello, ServerHello)
    assert len(client_hello.legacy_session_id) == 32
    assert server_hello.legacy_session_id_echo == client_hello.legacy_session_id


@pytest.mark.parametrize("seed", range(20))
def test_handshake_buffer_reassembles_a_fragmented_flight(seed: int) -> None:
    flight = [
        SIMPLE_ENCRYPTED_EXTENSIONS,
        SIMPLE_CERTIFICATE,
        SIMPLE_CERTIFICATE_VERIFY,
        SIMPLE_SERVER_FINISHED,
        RESUMED_END_OF_EARLY_DATA,
    ]
    stream = b"".join(flight)
    chooser = random.Random(seed)
    buffer = HandshakeBuffer()
    received: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(stream):
        size = chooser.randint(1, 200)
        buffer.feed(stream[offset : offset + size])
        offset += size
        while (message := buffer.next_message()) is not None:
            received.append(message)
        assert buffer.pending == min(offset, len(stream)) - sum(len(raw) for _, raw in received)
    assert received == [(raw[0], raw) for raw in flight]
    assert buffer.pending == 0
    assert [HandshakeType(msg_type).name for msg_type, _ in received] == [
        "ENCRYPTED_EXTENSIONS",
        "CERTIFICATE",
        "CERTIFICATE_VERIFY",
        "FINISHED",
        "END_OF_EARLY_DATA",
    ]
