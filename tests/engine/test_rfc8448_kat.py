"""Known answers from the RFC 8448 traces (sections 3, 5 and 7), replayed through the engine's layers.

The engine's state machines emit s2n's messages, whose extensions differ from the
trace's, so the replay drives the layers below them with the trace's own messages,
keys and randoms: key shares from the given private keys (through the engine's draw
model), every handshake message decoded and re-encoded, the transcript hash at every
derivation, every HKDF secret, traffic key and IV, every Finished, the server's
CertificateVerify (verified; the trace gives no private key), and every protected
record sealed again byte for byte.

#= https://www.rfc-editor.org/rfc/rfc8446#section-7.1
#= type=test
## Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), Hash.length)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from cryptography import x509

from engine.crypto.key_exchange import SECP256R1, X25519, KeyShare
from engine.crypto.key_schedule import KeySchedule, TrafficKeys, hkdf_expand_label, traffic_keys
from engine.crypto.suites import suite_for
from engine.crypto.transcript import Transcript
from engine.handshake.certificates import verify_signature
from engine.handshake.client_offer import decode_optional
from engine.record.protection import RecordProtection
from engine.wire.extensions import ExtensionType, KeyShareServerHello
from engine.wire.handshake import (
    Certificate,
    CertificateVerify,
    ServerHello,
    decode_handshake,
    encode_handshake,
)
from tests.rfc8448_vectors import ScriptedRandom, Step, load_section

_CONTENT_TYPES = {"change_cipher_spec": 20, "alert": 21, "handshake": 22, "application_data": 23}
_MESSAGES = ("ClientHello", "ServerHello", "EncryptedExtensions", "Certificate", "CertificateVerify", "Finished")


@dataclass
class Replay:
    """The engine-side state the replay keeps."""

    transcript: Transcript = field(default_factory=Transcript)
    schedule: KeySchedule | None = None
    hash_name: str = "sha256"
    shares: dict[str, bytes] = field(default_factory=dict)
    writers: dict[str, RecordProtection] = field(default_factory=dict)
    suite_code: int = 0x1301
    server_leaf: object = None
    server_share: tuple[int, bytes] = (0, b"")
    secrets: dict[bytes, bytes] = field(default_factory=dict)
    checks: int = 0


def _key_pair(replay: Replay, step: Step) -> None:
    group = X25519 if "x25519" in step.action else SECP256R1
    share = KeyShare(group, ScriptedRandom(step.values["private key"]))
    assert share.public == step.values["public key"]
    replay.shares[step.side] = step.values["private key"]
    replay.checks += 1


def _message(replay: Replay, raw: bytes) -> None:
    message = decode_handshake(raw)
    assert encode_handshake(message) == raw
    if isinstance(message, ServerHello):
        replay.suite_code = message.cipher_suite
        replay.hash_name = suite_for(message.cipher_suite).hash_name
        replay.transcript.choose_hash(replay.hash_name)
        if message.is_hello_retry_request:
            replay.transcript.replace_with_message_hash()
        else:
            share = decode_optional(message.extensions, ExtensionType.KEY_SHARE, KeyShareServerHello)
            assert share is not None
            replay.server_share = (share.server_share.group, share.server_share.key_exchange)
    if isinstance(message, Certificate):
        replay.server_leaf = x509.load_der_x509_certificate(message.entries[0].cert_data)
    if isinstance(message, CertificateVerify) and replay.server_leaf is not None:
        verify_signature(replay.server_leaf, message.algorithm, replay.transcript.digest(), message.signature)  # type: ignore[arg-type]
    replay.transcript.add(raw)
    replay.checks += 1


def _label(action: str) -> bytes:
    found = re.search(r'"tls13 ([^"]+)"', action)
    assert found is not None, action
    return found.group(1).encode()


def _derive(replay: Replay, step: Step) -> None:
    values, label = step.values, _label(step.action)
    if label not in (b"derived", b"resumption"):  # their contexts: the empty hash, the ticket nonce
        assert values["hash"] == replay.transcript.digest(), f"transcript hash at {step.action}"
    expanded = hkdf_expand_label(replay.hash_name, values["PRK"], label, values["hash"], len(values["expanded"]))
    assert expanded == values["expanded"]
    replay.secrets[label] = expanded
    replay.checks += 1


def _extract(replay: Replay, step: Step) -> None:
    stage = _label_word(step.action)
    if stage == "early":
        replay.schedule = KeySchedule(replay.hash_name)
        assert replay.schedule.early_secret == step.values["secret"]
    elif stage == "handshake":
        assert replay.schedule is not None
        ikm = step.values["IKM"]
        replay.schedule.enter_handshake(ikm)
        assert replay.schedule.handshake_secret == step.values["secret"]
        _check_shared_secret(replay, ikm)
    else:
        assert replay.schedule is not None
        replay.schedule.enter_master()
        assert replay.schedule.master_secret == step.values["secret"]
    replay.checks += 1


def _label_word(action: str) -> str:
    found = re.search(r'extract secret "(\w+)"', action)
    assert found is not None, action
    return found.group(1)


def _check_shared_secret(replay: Replay, ikm: bytes) -> None:
    """The client's key share (from its private key) and the ServerHello's share give the trace's IKM."""
    group, server_public = replay.server_share
    client = KeyShare(group, ScriptedRandom(replay.shares["client"]))
    assert client.exchange(server_public) == ikm


def _traffic_keys(replay: Replay, step: Step) -> None:
    suite = suite_for(replay.suite_code)
    keys = traffic_keys(replay.hash_name, step.values["PRK"], suite.key_len, suite.iv_len)
    assert (keys.key, keys.iv) == (step.values["key expanded"], step.values["iv expanded"])
    if "write" in step.action:
        replay.writers[step.side] = RecordProtection(suite, TrafficKeys(step.values["PRK"], keys.key, keys.iv))
    replay.checks += 1


def _finished(replay: Replay, step: Step) -> None:
    assert replay.schedule is not None
    values = step.values
    finished_key = hkdf_expand_label(
        replay.hash_name, values["PRK"], b"finished", values["hash"], len(values["expanded"])
    )
    assert finished_key == values["expanded"]
    verify_data = replay.schedule.finished_verify_data(values["PRK"], replay.transcript.digest())
    assert verify_data == values["finished"]
    replay.checks += 1


def _record(replay: Replay, step: Step) -> None:
    kind = re.search(r"send (\w+) record", step.action)
    assert kind is not None
    content_type = _CONTENT_TYPES[kind.group(1)]
    payload, record = step.values["payload"], step.values["complete record"]
    writer = replay.writers.get(step.side)
    if writer is None or content_type == 20:
        assert record[5:] == payload and record[0] == content_type
    else:
        assert writer.seal(content_type, payload) == record
    replay.checks += 1


def _same_as_write_keys(replay: Replay, step: Step) -> None:
    """A "(same as ...)" write-keys step: build the writer from the secret checked earlier."""
    phase = b"hs" if "handshake" in step.action.split("(")[0] else b"ap"
    secret = replay.secrets[(b"c " if step.side == "client" else b"s ") + phase + b" traffic"]
    suite = suite_for(replay.suite_code)
    replay.writers[step.side] = RecordProtection(suite, traffic_keys(replay.hash_name, secret, suite.key_len))


def _replay(section: int) -> Replay:
    replay = Replay()
    for step in load_section(section):
        if not step.values:
            if "write traffic keys" in step.action.split("(")[0]:
                _same_as_write_keys(replay, step)
            continue  # other "(same as ...)" steps repeat values already checked
        action = step.action
        if "key pair" in action:
            _key_pair(replay, step)
        elif action.startswith("construct a"):
            name = next(value for value in step.values if value in _MESSAGES or value == "NewSessionTicket")
            if name != "NewSessionTicket":
                _message(replay, step.values[name])
        elif action.startswith("extract secret"):
            _extract(replay, step)
        elif action.startswith(("derive secret", "generate resumption")):
            _derive(replay, step)
        elif "traffic keys" in action:
            _traffic_keys(replay, step)
        elif action.startswith("calculate finished"):
            _finished(replay, step)
        elif action.startswith("send"):
            _record(replay, step)
    return replay


@pytest.mark.parametrize(("section", "checks"), [(3, 37), (5, 38), (7, 35)])
def test_rfc8448_trace_reproduced(section: int, checks: int) -> None:
    # Every step that carries values is checked: the count catches a step silently skipped.
    assert _replay(section).checks == checks
