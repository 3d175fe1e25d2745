"""ci/capture_client_hellos.py: real ClientHellos from openssl, gnutls-cli and Python's ssl, over loopback."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

from engine.wire.handshake import ClientHello, decode_handshake
from s2n_bridge.client_hello import parse_client_hello_fields

ROOT = Path(__file__).resolve().parent.parent
_PROGRAMS = {"openssl": "openssl", "gnutls-cli": "gnutls-bin"}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("capture_client_hellos", ROOT / "ci" / "capture_client_hellos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


capture_client_hellos = _load()


def test_client_programs_are_installed() -> None:
    missing = [f"{program} (Debian package {package})" for program, package in _PROGRAMS.items()
               if shutil.which(program) is None]  # fmt: skip
    assert not missing, f"missing TLS clients: {', '.join(missing)}; install them with ci/setup.sh"


def test_capture_every_client_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = capture_client_hellos.main([str(tmp_path), "--json", "--timeout", "10"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    failures = [f"{line['name']}: {line['error']}" for line in lines if not line["ok"]]
    assert status == 0 and not failures, "captures failed:\n" + "\n".join(failures)
    assert len(lines) == len(capture_client_hellos.client_specs())
    parsed_by_kind: dict[str, int] = {}
    for line in lines:
        body = Path(line["body_file"]).read_bytes()
        records = (tmp_path / f"{line['name']}.records").read_bytes()
        message = b"\x01" + len(body).to_bytes(3, "big") + body
        assert records[0] == 22 and len(records) == line["record_bytes"]
        assert message in b"".join(_fragments(records)), line["name"]
        hello = decode_handshake(message)  # the engine's strict decoder
        assert isinstance(hello, ClientHello)
        parsed = parse_client_hello_fields(message)  # s2n accepts it too
        assert parsed.random == hello.random
        parsed_by_kind[line["client"]] = parsed_by_kind.get(line["client"], 0) + 1
    assert set(parsed_by_kind) == set(capture_client_hellos.CLIENT_KINDS), parsed_by_kind


def _fragments(records: bytes) -> list[bytes]:
    fragments, offset = [], 0
    while offset < len(records):
        end = offset + 5 + int.from_bytes(records[offset + 3 : offset + 5], "big")
        fragments.append(records[offset + 5 : end])
        offset = end
    return fragments


def _record(content_type: int, fragment: bytes) -> bytes:
    return bytes((content_type, 3, 1)) + len(fragment).to_bytes(2, "big") + fragment


def _read_from(chunks: list[bytes], *, close: bool = True) -> tuple[bytes, bytes]:
    left, right = socket.socketpair()

    def feed() -> None:
        try:
            for chunk in chunks:
                left.sendall(chunk)
                time.sleep(0.001)
        except OSError:
            pass  # the reader stopped as soon as it had a whole ClientHello
        if close:
            left.close()

    thread = threading.Thread(target=feed)
    thread.start()
    try:
        with right:
            return capture_client_hellos._read_client_hello(right, time.monotonic() + 2)  # type: ignore[no-any-return]
    finally:
        thread.join(5)
        left.close()


def test_reads_a_client_hello_split_over_records_and_reads() -> None:
    body = bytes(range(200))
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    records = _record(22, message[:3]) + _record(22, message[3:150]) + _record(22, message[150:])
    stream = records + _record(22, b"\x02\x00\x00\x00")  # whatever follows is left unread
    chunks = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    got_records, got_body = _read_from(chunks)
    assert got_body == body
    assert got_records == records


@pytest.mark.parametrize(
    ("stream", "complaint"),
    [
        (_record(21, b"\x02\x28"), "content type 21"),
        (_record(22, b"\x02\x00\x00\x00"), "not ClientHello"),
        (_record(22, b"\x01\x00\x00\x10abc"), "connection closed"),
    ],
)
def test_rejects_what_is_no_client_hello(stream: bytes, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        _read_from([stream])


def test_times_out_on_a_silent_client() -> None:
    with pytest.raises(TimeoutError):
        _read_from([b"\x16\x03"], close=False)
