"""The committed RFC 8448 trace data loads, is shaped as the trace, and is self-consistent.

The data was extracted (ci/extract_rfc8448.py) from the trace text supplied to the project,
which is an Internet-Draft text (draft-ietf-tls-tls13-vectors-latest, September 2018), not the
published RFC 8448: its random values, hence its secrets and records, differ from the RFC's
(section 3's client x25519 private key is 70a1a8f4... here, 49af42ba... in the RFC).
"""

from __future__ import annotations

import hmac
import importlib.util
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from tests.rfc8448_vectors import SECTIONS, Step, find, load_section

_SEND_RECORD = re.compile(r"send (handshake|alert|change_cipher_spec|application_data) record")
_CONTENT_TYPE = {"change_cipher_spec": 20, "alert": 21, "handshake": 22, "application_data": 23}
_AEAD_TAG = 16  # TLS_AES_128_GCM_SHA256, the suite of every trace


def _all_steps() -> list[tuple[int, Step]]:
    return [(number, step) for number in SECTIONS for step in load_section(number)]


@pytest.mark.parametrize("number", SECTIONS)
def test_section_loads(number: int) -> None:
    steps = load_section(number)
    assert len(steps) > 40
    assert steps[0] == find(steps, "client", "create an ephemeral x25519 key pair")
    assert {step.side for step in steps} == {"client", "server"}
    for step in steps:
        assert not step.action.endswith(":")
        assert "  " not in step.action
        for label in step.values:
            assert "octets" not in label
        if "(same as" in step.action:
            assert step.values == {}


def test_unknown_section_and_missing_step() -> None:
    with pytest.raises(ValueError, match="not extracted"):
        load_section(4)
    with pytest.raises(LookupError):
        find(load_section(3), "client", "construct a ClientHello", nth=1)


def test_section3_hello_messages() -> None:
    steps = load_section(3)
    client_hello = find(steps, "client", "construct a ClientHello handshake message").values["ClientHello"]
    # "ClientHello (196 octets)": a 4-octet handshake header announcing a 192-octet body.
    assert len(client_hello) == 196
    assert client_hello[0] == 1
    assert int.from_bytes(client_hello[1:4]) == 192
    server_hello = find(steps, "server", "construct a ServerHello handshake message").values["ServerHello"]
    assert len(server_hello) == 90
    assert server_hello[:4] == bytes.fromhex("02000056")
    # The key shares sit inside the hellos.
    client_key = find(steps, "client", "create an ephemeral x25519 key pair").values
    server_key = find(steps, "server", "create an ephemeral x25519 key pair").values
    assert client_key["public key"] in client_hello
    assert server_key["public key"] in server_hello


def test_section3_known_values() -> None:
    steps = load_section(3)
    client_key = find(steps, "client", "create an ephemeral x25519 key pair").values
    assert client_key["private key"].hex().startswith("70a1a8f491e82d530542c6d7a8dcd8cf")
    server_key = find(steps, "server", "create an ephemeral x25519 key pair").values
    assert server_key["private key"].hex().startswith("5aa93ea18f4c5e4a39856f573af4ec15")
    early = find(steps, "server", 'extract secret "early"').values
    assert early["salt"] == bytes(32)  # "0 (all zero octets)"
    assert early["secret"].hex() == "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"
    derived = find(steps, "server", 'derive secret for handshake "tls13 derived"').values
    assert derived["hash"] == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert derived["expanded"].hex() == "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"
    finished = find(steps, "client", 'calculate finished "tls13 finished"', nth=1).values
    assert finished["hash"] == b""  # "(empty)"
    assert finished["finished"].hex().startswith("80a2c0d6cbc21078dba30affbf091929")
    app_data = find(steps, "client", "send application_data record").values
    assert app_data["payload"] == bytes(range(50))


def test_section5_hello_retry_request() -> None:
    steps = load_section(5)
    hrr = find(steps, "server", "construct a ServerHello handshake message").values["ServerHello"]
    assert len(hrr) == 176
    # RFC 8446, 4.1.3: a HelloRetryRequest is a ServerHello with this special random.
    assert hrr[6:38].hex() == "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
    second_hello = find(steps, "client", "construct a ClientHello handshake message", nth=1).values["ClientHello"]
    assert len(second_hello) == 512
    p256 = find(steps, "client", "create an ephemeral P-256 key pair").values
    assert len(p256["public key"]) == 65
    assert p256["public key"] in second_hello


def test_section7_compatibility_mode() -> None:
    steps = load_section(7)
    for side in ("client", "server"):
        ccs = find(steps, side, "send change_cipher_spec record").values
        assert ccs == {"payload": b"\x01", "complete record": bytes.fromhex("140303000101")}
    client_hello = find(steps, "client", "construct a ClientHello handshake message").values["ClientHello"]
    session_id = client_hello[39 : 39 + client_hello[38]]
    assert len(session_id) == 32  # compatibility mode: a non-empty legacy_session_id ...
    server_hello = find(steps, "server", "construct a ServerHello handshake message").values["ServerHello"]
    assert server_hello[38:71] == client_hello[38:71]  # ... echoed by the server


@pytest.mark.parametrize("number", SECTIONS)
def test_record_headers(number: int) -> None:
    sends = [step for step in load_section(number) if _SEND_RECORD.fullmatch(step.action)]
    assert len(sends) >= 6
    for step in sends:
        match = _SEND_RECORD.fullmatch(step.action)
        assert match is not None
        record, payload = step.values["complete record"], step.values["payload"]
        assert set(step.values) == {"payload", "complete record"}
        assert record[1:3] in (b"\x03\x01", b"\x03\x03")
        assert int.from_bytes(record[3:5]) == len(record) - 5, step
        if record[0] == _CONTENT_TYPE[match.group(1)] and record[5:] == payload:
            continue  # plaintext record
        # Protected: opaque_type application_data; TLSInnerPlaintext adds the content type
        # octet (no padding in these traces) and AEAD adds its tag.
        assert record[0] == 23, step
        assert len(record) - 5 == len(payload) + 1 + _AEAD_TAG, step


@pytest.mark.parametrize(("number", "step"), _all_steps())
def test_values_are_self_consistent(number: int, step: Step) -> None:
    """Recompute what the trace derives, so a mis-read octet anywhere would show."""
    values = step.values
    for info, expanded in (("info", "expanded"), ("key info", "key expanded"), ("iv info", "iv expanded")):
        if info in values:
            hkdf = HKDFExpand(hashes.SHA256(), len(values[expanded]), values[info])
            assert hkdf.derive(values["PRK"]) == values[expanded], (number, step.action, expanded)
    if "IKM" in values:
        assert hmac.digest(values["salt"], values["IKM"], "sha256") == values["secret"]
    if step.action.startswith("create an ephemeral x25519 key pair"):
        private = x25519.X25519PrivateKey.from_private_bytes(values["private key"])
        assert private.public_key().public_bytes_raw() == values["public key"]
    if step.action.startswith("create an ephemeral P-256 key pair"):
        key = ec.derive_private_key(int.from_bytes(values["private key"]), ec.SECP256R1())
        point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        assert point == values["public key"]


@cache
def _extractor() -> ModuleType:
    """ci/extract_rfc8448.py (a script, not a package module), imported by path."""
    path = Path(__file__).resolve().parent.parent / "ci" / "extract_rfc8448.py"
    spec = importlib.util.spec_from_file_location("_rfc8448_extractor", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_PAGE_BREAK = (
    "\n\n\nThomson                       Informational                     [Page 3]\n"
    "\f\nRFC 8448                     TLS 1.3 Traces                 January 2019\n\n\n"
)
_SYNTHETIC = (
    "3.  Simple 1-RTT Handshake\n\n   Prose.\n\n"
    "   {client}  create an ephemeral x25519 key pair:\n\n"
    "      private key (32 octets):  49 AF 42 ba 7f 79 94 85 2d 71 3e f2 78\n"
    "         4b cb ca a7 91 1d e2 6a dc 56 42\n" + _PAGE_BREAK + "         cb 63 45 40 e7 ea 50 05\n\n"
    "   {client}  derive read traffic keys for handshake data (same as server\n"
    + _PAGE_BREAK
    + "      handshake data write traffic keys)\n\n"
    '   {server}  extract secret "early":\n\n      salt:  0 (all zero octets)\n\n'
    "      IKM (2 octets):  00 00\n\n      secret (3 octets):  01 02 03\n\n"
    "      hash (0 octets):  (empty)\n\n"
    "4.  Next\n"
)


def test_extractor_handles_page_breaks() -> None:
    extractor = _extractor()
    lines = extractor.strip_page_furniture(_SYNTHETIC.split("\n"))
    steps = extractor.extract_section(lines, 3, "Simple 1-RTT Handshake")
    assert steps == [
        {
            "side": "client",
            "action": "create an ephemeral x25519 key pair",
            "values": {"private key": "49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005"},
        },
        {
            "side": "client",
            "action": "derive read traffic keys for handshake data (same as server handshake data write traffic keys)",
            "values": {},
        },
        {
            "side": "server",
            "action": 'extract secret "early"',
            "values": {"salt": "000000", "IKM": "0000", "secret": "010203", "hash": ""},
        },
    ]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("(32 octets)", "(33 octets)"), r"annotated \(33 octets\) but 32"),
        (("50 05\n", "50 05 06\n"), r"annotated \(32 octets\) but 33"),
        (("   Prose.\n\n   {client}", "   {client}  x\n   prose\n   {client}"), "unexpected line"),
        (("IKM (2 octets):  00 00", "IKM:  00 00"), "no octet count"),
    ],
)
def test_extractor_fails_loudly(edit: tuple[str, str], message: str) -> None:
    extractor = _extractor()
    lines = extractor.strip_page_furniture(_SYNTHETIC.replace(*edit).split("\n"))
    with pytest.raises(extractor.ExtractionError, match=message):
        extractor.extract_section(lines, 3, "Simple 1-RTT Handshake")
