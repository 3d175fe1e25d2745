"""engine.keylog: NSS key-log lines in a file, SSLKEYLOGFILE, and the lines a real handshake writes."""

from __future__ import annotations

import copy
import re
import stat
from pathlib import Path

import pytest

from engine import ConfigurationError, KeyLogFile, TLSConnection, accept, connect, key_log_from_env
from engine.keylog import KEY_LOG_ENVIRONMENT_VARIABLE
from tests.engine.socket_peers import Peer, client_config, loopback, port_of, server_config

# NSS's format (https://udn.realityripple.com/docs/Mozilla/Projects/NSS/Key_Log_Format): label, the
# ClientHello random in hex, the secret in hex; TLS 1.3 has these five labels.
_LINE = re.compile(
    rb"(CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0"
    rb"|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET) ([0-9a-f]{64}) ([0-9a-f]{64}|[0-9a-f]{96})"
)
_LABELS = {
    b"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    b"SERVER_HANDSHAKE_TRAFFIC_SECRET",
    b"CLIENT_TRAFFIC_SECRET_0",
    b"SERVER_TRAFFIC_SECRET_0",
    b"EXPORTER_SECRET",
}
_SAMPLE = b"CLIENT_TRAFFIC_SECRET_0 " + b"ab" * 32 + b" " + b"cd" * 32


def test_lines_are_appended_one_per_call_with_a_line_end(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_bytes(b"# an earlier run\n")
    with KeyLogFile(path) as key_log:
        key_log(_SAMPLE)
        key_log(_SAMPLE + b"\n")  # a line end already there is not doubled
        assert path.read_bytes() == b"# an earlier run\n" + (_SAMPLE + b"\n") * 2  # on disk at once, unbuffered
    assert key_log.closed
    with pytest.raises(ValueError, match="closed"):
        key_log(_SAMPLE)
    key_log.close()  # a second close does nothing


def test_a_new_key_log_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "new.log"
    KeyLogFile(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_path_that_cannot_be_opened_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no-such-directory"):
        KeyLogFile(tmp_path / "no-such-directory" / "keys.log")


def test_a_copied_connection_shares_the_key_log(tmp_path: Path) -> None:
    with KeyLogFile(tmp_path / "keys.log") as key_log:
        assert copy.deepcopy(key_log) is key_log
        assert "keys.log" in repr(key_log)


def test_sslkeylogfile_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_LOG_ENVIRONMENT_VARIABLE, raising=False)
    assert key_log_from_env() is None
    monkeypatch.setenv(KEY_LOG_ENVIRONMENT_VARIABLE, "")
    assert key_log_from_env() is None
    monkeypatch.setenv(KEY_LOG_ENVIRONMENT_VARIABLE, str(tmp_path / "env.log"))
    key_log = key_log_from_env()
    assert key_log is not None and key_log.path == str(tmp_path / "env.log")
    key_log.close()


def _lines(path: Path) -> list[re.Match[bytes]]:
    content = path.read_bytes()
    assert content.endswith(b"\n")
    matches = [_LINE.fullmatch(line) for line in content.splitlines()]
    assert all(matches), content
    return [match for match in matches if match is not None]


def test_a_handshake_writes_the_five_nss_lines_on_each_side(tmp_path: Path) -> None:
    client_log, server_log = tmp_path / "client.log", tmp_path / "server.log"
    with KeyLogFile(client_log) as client_sink, KeyLogFile(server_log) as server_sink:
        client = TLSConnection(client_config(tmp_path), client=True, server_name="localhost", key_log=client_sink)
        server = TLSConnection(server_config(tmp_path), client=False, key_log=server_sink)
        client.start()
        server.receive_data(client.data_to_send())  # ClientHello
        client.receive_data(server.data_to_send())  # the server's flight
        server.receive_data(client.data_to_send())  # the client's Finished
    assert client.handshake_complete and server.handshake_complete
    client_lines, server_lines = _lines(client_log), _lines(server_log)
    assert {match[1] for match in client_lines} == _LABELS
    assert sorted(match[0] for match in client_lines) == sorted(match[0] for match in server_lines)
    assert len({match[2] for match in client_lines}) == 1  # one client random for every line


def test_connect_and_accept_log_to_sslkeylogfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sslkeys.log"
    monkeypatch.setenv(KEY_LOG_ENVIRONMENT_VARIABLE, str(path))
    with loopback() as listener:
        config = server_config(tmp_path)

        def serve() -> None:
            with accept(listener, config, timeout=10) as tls:
                tls.sendall(tls.recv_available())

        with Peer(serve) as server:
            with connect("localhost", port_of(listener), client_config(tmp_path), timeout=10) as tls:
                tls.sendall(b"logged")
                assert tls.recv_available() == b"logged"
            server.result()
    lines = _lines(path)
    assert len(lines) == 10  # both sides, five secrets each, in one file
    assert {match[1] for match in lines} == _LABELS
