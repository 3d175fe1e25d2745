"""Lockstep regressions for fuzz inputs where the engine parted from s2n-tls (fixed in the engine)."""

from __future__ import annotations

import pytest

from tlsdiff.targets import TARGETS

# Engine-vs-s2n byte comparisons: the engine models the OpenSSL 3.0 build's draws.
pytestmark = pytest.mark.openssl_engine

_INPUTS: dict[str, tuple[str, bytes]] = {
    # The ServerHello's legacy_compression_method is not 0 (a session id one byte short shifts
    # the fields) and there is no supported_versions: s2n checks the compression method as it
    # reads it (tls/s2n_server_hello.c:156, S2N_ERR_BAD_MESSAGE: a generic close_notify) before
    # the extensions and the version (protocol_version, tls/s2n_server_hello.c:219).
    "server_hello_compression": (
        "client_diff",
        bytes.fromhex(
            "010100000000920100020000010049494949494949494949494949494949494949494949494949494949494949494949"
            "49494949494949494949494949494949494949494949494949494949494949494949494949494949494949"
        ),
    ),
    # The same after a HelloRetryRequest: the second ServerHello's compression byte is 2.
    "second_server_hello_compression": ("client_diff", bytes.fromhex("0d32016000398f042a020100610157000101d6")),
    # Certificate entries with repeated extensions of types s2n does not parse: s2n reads
    # every entry's extensions with s2n_extension_list_parse (tls/s2n_x509_validator.c:618),
    # which refuses a repeat only among the types it parses (tls/extensions/s2n_extension_list.c).
    "certificate_entry_repeat_accepted": (
        "cert_chain_diff",
        bytes.fromhex(
            "01000200ec00006a3f000002cb010cffff012b000002a702e1f57b08acfb687e6a9d45460000026502bbffff08eb73be"
            "cee85de1cb0000020603bf6b000211b9"
        ),
    ),
    "certificate_entry_repeat_bad_message": (
        "cert_chain_diff",
        bytes.fromhex(
            "01010000a40000c1010200028f027c00012057027dbe80368dd29ad8e9f8093d4ada4c37cbb325c7e23784a64ad69f84"
            "b03b020002770306fbbc09444f4fb18e3e560b0e02000259031a000101fa020002220112062f026d0a020002de018200"
            "ff04ac1082c5"
        ),
    ),
    "certificate_entry_repeat_verify_signature": (
        "cert_chain_diff",
        bytes.fromhex(
            "012a02000000000600020002b90174000020ab477eecca96a002163db258d1bd54a88b31536bba8fca40891e3f3d2908"
            "dc7b000002e7029b000102b88b"
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(_INPUTS))
def test_fuzz_input_agrees(name: str) -> None:
    target, data = _INPUTS[name]
    assert TARGETS[target].check(data) is None
