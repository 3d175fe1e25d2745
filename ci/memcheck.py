"""Run the bridge under valgrind memcheck and fail on memory errors that concern it.

Usage: python ci/memcheck.py            (runs the workload below under valgrind)

CPython and the ``cryptography`` wheel report some uninitialised-value noise of their
own under memcheck, so the verdict reads valgrind's XML: it fails on any invalid read,
write or free anywhere, and on any other error whose stack or origin passes through
libs2n or the bridge extension. Exit 0 clean, 1 errors found, 2 valgrind missing/failed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.etree import ElementTree

from engine.crypto.signer import KeySigner
from s2n_bridge import Config, Connection, DrawLog, Mode, S2NError, ServerCertificate, parse_client_hello
from tlsdiff.certs import CERT_TYPES, certificate_for
from tlsdiff.scenario import run_s2n_pair

_ALWAYS_FATAL = {"InvalidRead", "InvalidWrite", "InvalidFree", "MismatchedFree", "Overlap", "InvalidJump"}
_OURS = ("libs2n", "_s2n_openssl", "_s2n_awslc")


def _workload() -> None:
    """Exercise every bridge path once: handshakes, signing, errors, parsing."""
    with DrawLog():
        for cert_type in CERT_TYPES:
            run_s2n_pair("default_tls13", cert_type, 3)
    run_s2n_pair("test_all_tls13", "ecdsa-p256", 4, alpn=("h2",))
    certificate = certificate_for("ecdsa-p256")
    # The harness keeps its configs for the process: build and free a client one (system trust
    # loaded too) and a signing server one here.
    signed = ServerCertificate(certificate.chain_pem, signer=KeySigner(certificate.private_key))
    with Config("default_tls13", trust_pem=certificate.ca_pem, alpn=("h2",), key_log=lambda _: None):
        pass
    with Config("default_tls13", certificates=[signed], alpn=("h2",), key_log=lambda _: None, system_trust=False):
        pass
    bad_inputs = [bytes.fromhex("1603010004 01000000"), bytes.fromhex("160301000a 01000006 0303 ffffffff"), b"\x16\x03"]
    for data in bad_inputs:
        with (
            Config(certificates=[ServerCertificate(certificate.chain_pem, certificate.key_pem)]) as config,
            Connection(config, Mode.SERVER, seed=1) as server,
        ):
            server.feed(data)
            server.feed_eof()
            with contextlib.suppress(S2NError):
                server.negotiate()
    for chain in (b"", b"garbage"):
        with contextlib.suppress(S2NError):
            Config(certificates=[ServerCertificate(chain, certificate.key_pem)])
    with contextlib.suppress(S2NError):
        parse_client_hello(b"\x01\x00\x00\x05garbage")
    print("memcheck workload done")


def _frames_touch_ours(error: ElementTree.Element) -> bool:
    return any(name in (obj.text or "") for obj in error.iter("obj") for name in _OURS)


def _verdict(xml_path: Path) -> list[str]:
    root = ElementTree.parse(xml_path).getroot()  # noqa: S314  (valgrind's own output)
    problems = []
    for error in root.iter("error"):
        kind = error.findtext("kind") or "?"
        if kind in _ALWAYS_FATAL or (not kind.startswith("Leak") and _frames_touch_ours(error)):
            what = error.findtext("what") or error.findtext("xwhat/text") or ""
            first = next((fn.text for fn in error.iter("fn")), "?")
            problems.append(f"{kind}: {what} (first frame: {first})")
    return problems


def main() -> int:
    """Run the workload under valgrind and print the verdict."""
    if len(sys.argv) > 1 and sys.argv[1] == "--workload":
        _workload()
        return 0
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("memcheck: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        xml_path = Path(tmp) / "memcheck.xml"
        command = [valgrind, "--xml=yes", f"--xml-file={xml_path}", "--track-origins=yes", "--leak-check=no"]
        environment = {**os.environ, "PYTHONMALLOC": "malloc"}
        completed = subprocess.run([*command, sys.executable, __file__, "--workload"], env=environment, check=False)
        if completed.returncode != 0:
            print(f"memcheck: the workload failed under valgrind (exit {completed.returncode})", file=sys.stderr)
            return 2
        problems = _verdict(xml_path)
    for problem in problems:
        print(f"memcheck: {problem}")
    print(f"memcheck: {len(problems)} memory error(s) in the bridge or s2n-tls")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
