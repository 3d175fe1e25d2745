"""An independent dissector: the engine's traffic with OpenSSL, captured on loopback, decrypted by tshark.

The engine client talks to ``openssl s_server`` over TCP (a matrix cell, run as the suite
runs it); the bytes it wrote and read are written as pcapng with its key log in a
Decryption Secrets Block (``tlsdiff.pcapng``). tshark must dissect every record, decrypt
the handshake and the application data (which must be what was sent) and report no
malformed packet and no expert error or warning. tshark missing fails, never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from interop.cells import cell_by_id
from interop.peer_protocol import payload
from interop.run import observe_cell
from tlsdiff.decode import split_wire_records
from tlsdiff.pcapng import CLIENT_TO_SERVER, Conversation, write_pcapng

# EncryptedExtensions, Certificate, CertificateVerify and Finished exist only decrypted.
_ENCRYPTED_HANDSHAKE = {8, 11, 15, 20}
_CELLS = ("openssl-server/engine-client/hrr=retry", "openssl-server/engine-client/record=2048")


def _tshark(capture: Path, config_dir: Path, *arguments: str) -> str:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.fail("tshark is not installed: run ci/setup.sh (Debian package tshark)")
    environment = {**os.environ, "WIRESHARK_CONFIG_DIR": str(config_dir)}
    # The payload is random bytes, not HTTP (port 443 would make tshark read it as such and warn).
    command = [tshark, "-r", str(capture), "-o", "tls.desegment_ssl_records:TRUE", "--disable-protocol", "http"]
    command += [*arguments]
    return subprocess.run(command, capture_output=True, text=True, check=True, env=environment, timeout=30).stdout


def _merged(wire: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    transfers: list[tuple[str, bytes]] = []
    for direction, data in wire:
        if transfers and transfers[-1][0] == direction:
            transfers[-1] = (direction, transfers[-1][1] + data)
        else:
            transfers.append((direction, data))
    return transfers


def _followed(output: str) -> tuple[bytes, bytes]:
    """follow,tls,raw: the client's records (the first, whichever its indent) and the server's."""
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("Node 1:")) + 1
    body = [(line.startswith("\t"), bytes.fromhex(line.strip())) for line in lines[start:-1] if line.strip()]
    client_mark = body[0][0]
    return (
        b"".join(data for mark, data in body if mark == client_mark),
        b"".join(data for mark, data in body if mark != client_mark),
    )


@pytest.mark.parametrize("cell_id", _CELLS)
def test_tshark_decrypts_and_dissects_every_record(cell_id: str, cert_dir: Path, tmp_path: Path) -> None:
    cell = cell_by_id(cell_id)
    observed = observe_cell(cell, cert_dir)
    engine = observed.engine
    assert engine.error is None and engine.peer_closed, engine.error
    capture = tmp_path / "engine-openssl.pcapng"
    write_pcapng(capture, [Conversation(cell_id, _merged(engine.wire))], engine.key_log)

    fields = ["tls.record.content_type", "tls.handshake.type"]
    rows = _tshark(capture, tmp_path, "-Y", "tls", "-T", "fields", "-E", "occurrence=a", *(f"-e{f}" for f in fields))
    content_types = [int(v) for row in rows.splitlines() for v in row.split("\t")[0].split(",") if v]
    handshake_types = {int(v) for row in rows.splitlines() for v in row.split("\t")[1].split(",") if v}
    records = split_wire_records(b"".join(data for direction, data in engine.wire if direction == CLIENT_TO_SERVER))[0]
    records += split_wire_records(b"".join(data for direction, data in engine.wire if direction != CLIENT_TO_SERVER))[0]
    assert len(content_types) == len(records)  # every record dissected
    assert handshake_types >= _ENCRYPTED_HANDSHAKE  # the protected handshake was decrypted
    assert 21 in content_types  # so were the close_notify alerts

    client_data, server_data = _followed(_tshark(capture, tmp_path, "-q", "-z", "follow,tls,raw,0"))
    conversation = cell.conversation
    assert client_data == payload("engine->peer", conversation.to_peer)
    assert server_data == payload("peer->engine", conversation.to_engine)

    assert "Malformed" not in _tshark(capture, tmp_path, "-V")
    expert = _tshark(capture, tmp_path, "-q", "-z", "expert")
    assert "Errors (" not in expert and "Warns (" not in expert, expert
