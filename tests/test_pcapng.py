"""pcapng with an embedded key log: tshark must dissect and decrypt every record.

These tests need tshark (and editcap, same package); ci/setup.sh installs it. They
fail, never skip, when it is missing, so a CI machine without it cannot pass.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tlsdiff.pcapng import Conversation, key_log_bytes, pcapng_bytes, write_pcapng
from tlsdiff.scenario import CLIENT_DATA, SERVER_DATA, PairResult, run_pair

# Record by record, the content type tshark reports: the inner type for records it
# decrypted. Encrypted records left undecrypted would show 23 instead.
_EXPECTED_CONTENT_TYPES = [22, 22, 20, 22, 22, 22, 22, 20, 22, 23, 23, 23, 23, 21, 21]
# ClientHello, ServerHello, EncryptedExtensions, Certificate, CertificateVerify, both Finished.
_EXPECTED_HANDSHAKE_TYPES = [1, 2, 8, 11, 15, 20, 20]
_APPLICATION_RECORD_SIZES = [5120, 8087, 8087, 3826]  # client data in one record, server's in three


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run ci/setup.sh (it installs the Debian package tshark)")
    return path


def _run_tool(name: str, *arguments: str | Path, config_dir: Path) -> str:
    # A private configuration directory: a developer's Wireshark preferences must not
    # change what the tests see.
    environment = {**os.environ, "WIRESHARK_CONFIG_DIR": str(config_dir)}
    completed = subprocess.run(
        [_tool(name), *map(str, arguments)], capture_output=True, text=True, check=True, env=environment
    )
    return completed.stdout


@dataclass
class _Tshark:
    config_dir: Path

    def run(self, capture: Path, *arguments: str) -> str:
        return _run_tool(
            "tshark", "-r", capture, "-o", "tls.desegment_ssl_records:TRUE", *arguments, config_dir=self.config_dir
        )

    def fields(self, capture: Path, names: Sequence[str], *arguments: str) -> list[list[str]]:
        """One row per packet shown, one column per field (several values joined by commas)."""
        field_options = [option for name in names for option in ("-e", name)]
        output = self.run(capture, *arguments, "-T", "fields", "-E", "occurrence=a", *field_options)
        return [line.split("\t") for line in output.splitlines()]

    def records(self, capture: Path) -> dict[int, tuple[list[int], list[int], list[int]]]:
        """Per TCP stream: every record's content type and length, and the handshake types."""
        names = ["tcp.stream", "tls.record.content_type", "tls.record.length", "tls.handshake.type"]
        streams: dict[int, tuple[list[int], list[int], list[int]]] = {}
        for stream, *columns in self.fields(capture, names, "-Y", "tls"):
            lists = streams.setdefault(int(stream), ([], [], []))
            for values, column in zip(lists, columns, strict=True):
                values.extend(int(value) for value in column.split(",") if value)
        return streams

    def application_data(self, capture: Path, stream: int) -> list[tuple[bool, bytes]]:
        """The decrypted application data of a stream, one entry per record: (tab-indented, bytes)."""
        output = self.run(capture, "-q", "-z", f"follow,tls,raw,{stream}")
        lines = output.splitlines()
        body = lines[lines.index(next(line for line in lines if line.startswith("Node 1:"))) + 1 : -1]
        return [(line.startswith("\t"), bytes.fromhex(line.strip())) for line in body]

    def assert_clean(self, capture: Path) -> None:
        """No malformed packet, no expert error or warning, every checksum verified good."""
        summary = self.run(capture, "-q", "-z", "expert")
        assert "Errors (" not in summary and "Warns (" not in summary, summary
        assert "Malformed" not in self.run(capture, "-V")
        checksums = self.fields(
            capture, ["ip.checksum.status", "tcp.checksum.status"],
            "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
        )  # fmt: skip
        assert {tuple(row) for row in checksums} == {("1", "1")}  # 1 is "Good"


@pytest.fixture(scope="module")
def tshark(tmp_path_factory: pytest.TempPathFactory) -> _Tshark:
    _tool("tshark")
    return _Tshark(tmp_path_factory.mktemp("wireshark-config"))


@pytest.fixture(scope="module")
def engine_pair() -> PairResult:
    return run_pair("engine", "s2n", "default_tls13", "ecdsa-p256", 7)


@pytest.fixture(scope="module")
def s2n_pair() -> PairResult:
    return run_pair("s2n", "s2n", "default_tls13", "ecdsa-p256", 8)


def _client_randoms(result: PairResult) -> set[bytes]:
    return {line.split(b" ")[1] for line in result.client_key_log}


def _assert_decrypted(tshark: _Tshark, capture: Path, stream: int, result: PairResult) -> None:
    content_types, lengths, handshake_types = tshark.records(capture)[stream]
    assert lengths == [record.length for record in result.records]
    assert content_types == _EXPECTED_CONTENT_TYPES
    assert handshake_types == _EXPECTED_HANDSHAKE_TYPES
    application_data = tshark.application_data(capture, stream)
    assert [len(data) for _, data in application_data] == _APPLICATION_RECORD_SIZES
    # follow,tls indents one side's records with a tab, but which side varies (tshark
    # 4.0 names the server node 0): the first record is the client's, take its mark.
    client_mark = application_data[0][0]
    client_bytes = b"".join(data for mark, data in application_data if mark == client_mark)
    server_bytes = b"".join(data for mark, data in application_data if mark != client_mark)
    assert (client_bytes, server_bytes) == (CLIENT_DATA, SERVER_DATA)


def test_one_conversation_decrypts_from_the_embedded_key_log(
    tshark: _Tshark, engine_pair: PairResult, tmp_path: Path
) -> None:
    capture = tmp_path / "engine.pcapng"
    write_pcapng(capture, [Conversation.from_records("engine", engine_pair.records)], engine_pair.client_key_log)
    _assert_decrypted(tshark, capture, 0, engine_pair)
    tshark.assert_clean(capture)
    verbose = tshark.run(capture, "-V")
    for shown in (
        "Handshake Protocol: Certificate\n",
        "Handshake Protocol: Certificate Verify",
        "Finished",
        "Handshake Protocol: Encrypted Extensions",
        "Description: Close Notify",
    ):
        assert shown in verbose


def test_two_conversations_are_separate_streams_and_both_decrypt(
    tshark: _Tshark, engine_pair: PairResult, s2n_pair: PairResult, tmp_path: Path
) -> None:
    assert not _client_randoms(engine_pair) & _client_randoms(s2n_pair)
    capture = tmp_path / "both.pcapng"
    conversations = [
        Conversation.from_records("engine", engine_pair.records),
        Conversation.from_records("s2n", s2n_pair.records),
    ]
    write_pcapng(capture, conversations, engine_pair.client_key_log + s2n_pair.client_key_log)
    _assert_decrypted(tshark, capture, 0, engine_pair)
    _assert_decrypted(tshark, capture, 1, s2n_pair)
    tshark.assert_clean(capture)
    names = ["tcp.stream", "frame.interface_name", "tcp.srcport", "tcp.dstport", "frame.comment"]
    syns = tshark.fields(capture, names, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0")
    assert syns == [
        ["0", "engine", "49152", "443", "tlsdiff conversation engine"],
        ["1", "s2n", "49153", "443", "tlsdiff conversation s2n"],
    ]


def test_editcap_injected_secrets_give_the_same_dissection(
    tshark: _Tshark, engine_pair: PairResult, tmp_path: Path
) -> None:
    conversations = [Conversation.from_records("engine", engine_pair.records)]
    embedded, bare, injected = tmp_path / "embedded.pcapng", tmp_path / "bare.pcapng", tmp_path / "injected.pcapng"
    key_log = tmp_path / "keys.log"
    write_pcapng(embedded, conversations, engine_pair.client_key_log)
    write_pcapng(bare, conversations, engine_pair.client_key_log, include_secrets=False)
    key_log.write_bytes(key_log_bytes(engine_pair.client_key_log))
    _run_tool("editcap", "--inject-secrets", f"tls,{key_log}", bare, injected, config_dir=tshark.config_dir)
    # Without secrets only the cleartext handshake messages are seen: the DSB is what decrypts.
    assert tshark.records(bare)[0][2] == [1, 2]
    assert tshark.run(injected, "-V") == tshark.run(embedded, "-V")
    _assert_decrypted(tshark, injected, 0, engine_pair)


def test_small_segments_still_reassemble(tshark: _Tshark, engine_pair: PairResult, tmp_path: Path) -> None:
    capture = tmp_path / "small.pcapng"
    conversation = Conversation.from_records("engine", engine_pair.records, client_port=50000)
    write_pcapng(capture, [conversation], engine_pair.client_key_log, mss=100)
    _assert_decrypted(tshark, capture, 0, engine_pair)
    tshark.assert_clean(capture)


def test_the_checks_catch_a_malformed_packet(tshark: _Tshark, tmp_path: Path) -> None:
    # A ClientHello two bytes long: a control that assert_clean is not vacuous.
    capture = tmp_path / "malformed.pcapng"
    write_pcapng(capture, [Conversation("bad", [("client->server", bytes.fromhex("16030100060100000203 03"))])], [])
    with pytest.raises(AssertionError):
        tshark.assert_clean(capture)


def _blocks(data: bytes) -> list[tuple[int, bytes]]:
    """Split a little-endian pcapng into (block type, body), checking both length fields."""
    blocks, offset = [], 0
    while offset < len(data):
        block_type, total_length = struct.unpack_from("<II", data, offset)
        assert total_length % 4 == 0
        assert struct.unpack_from("<I", data, offset + total_length - 4)[0] == total_length
        blocks.append((block_type, data[offset + 8 : offset + total_length - 4]))
        offset += total_length
    return blocks


def _conversation() -> Conversation:
    return Conversation("tiny", [("client->server", b"\x16\x03\x01\x00\x01\x01"), ("server->client", b"x" * 3000)])


def test_block_layout_and_secrets() -> None:
    key_log = [b"CLIENT_HANDSHAKE_TRAFFIC_SECRET 00 11", b"SERVER_HANDSHAKE_TRAFFIC_SECRET 00 22\n"]
    blocks = _blocks(pcapng_bytes([_conversation(), _conversation()], key_log))
    assert [block_type for block_type, _ in blocks[:4]] == [0x0A0D0D0A, 1, 1, 0x0A]
    assert {block_type for block_type, _ in blocks[4:]} == {6}
    secrets_type, secrets_length = struct.unpack_from("<II", blocks[3][1])
    assert secrets_type == 0x544C534B
    assert blocks[3][1][8 : 8 + secrets_length] == key_log_bytes(key_log)
    assert key_log_bytes(key_log).count(b"\n") == 2
    linktype = struct.unpack_from("<H", blocks[1][1])[0]
    assert linktype == 1
    without = _blocks(pcapng_bytes([_conversation()], key_log, include_secrets=False))
    assert 0x0A not in {block_type for block_type, _ in without}


def test_tcp_bytes_in_flight_stay_within_the_window() -> None:
    blocks = _blocks(pcapng_bytes([Conversation("bulk", [("server->client", b"\x17" * 300_000)])], []))
    in_flight = {443: 0, 49152: 0}
    for _, body in blocks[2:]:
        frame = body[20 : 20 + struct.unpack_from("<I", body, 12)[0]]
        tcp = frame[34:]
        source_port, flags = struct.unpack_from("!H", tcp)[0], tcp[13]
        payload = len(tcp) - (tcp[12] >> 4) * 4
        if flags & 0x10:  # the ACK acknowledges everything the other side sent
            in_flight[49152 if source_port == 443 else 443] = 0
        in_flight[source_port] += payload
        assert in_flight[source_port] <= 65535


def test_same_inputs_give_the_same_bytes(engine_pair: PairResult, tmp_path: Path) -> None:
    conversations = [Conversation.from_records("engine", engine_pair.records)]
    first, second = tmp_path / "first.pcapng", tmp_path / "second.pcapng"
    write_pcapng(first, conversations, engine_pair.client_key_log)
    write_pcapng(second, conversations, list(engine_pair.client_key_log))
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == pcapng_bytes(conversations, engine_pair.client_key_log)


def test_bytes_are_pinned() -> None:
    # Any change to the layout (and so to what Wireshark sees) has to be deliberate.
    digest = hashlib.sha256(pcapng_bytes([_conversation()], [b"CLIENT_TRAFFIC_SECRET_0 00 11"])).hexdigest()
    assert digest == "206078c0ee122fc2510471a057859bb90202c609e8220c38b32c5454e1f25fee"


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="direction"):
        Conversation("x", [("up", b"")])
    with pytest.raises(ValueError, match="server port"):
        Conversation("x", [], client_port=443)
    with pytest.raises(ValueError, match="share a client port"):
        pcapng_bytes([Conversation("a", [], 50000), Conversation("b", [], 50000)], [])
    with pytest.raises(ValueError, match="MSS"):
        pcapng_bytes([_conversation()], [], mss=0)
