"""``tlsdiff.rfc_sections``: sections read from the packaged RFC 8446, and the names that lead to them."""

from __future__ import annotations

import pytest

from tlsdiff.rfc_sections import _sections, governing_sections, section


@pytest.mark.parametrize(
    ("field_path", "messages", "headings"),
    [
        ("HelloRetryRequest.extensions[1:key_share].selected_group", ("handshake",),
         ["4.2.8.  Key Share", "4.  Handshake Protocol"]),
        ("engine=DecodeError|s2n=waiting", ("SERVER_CERT",), ["4.4.2.  Certificate"]),
        ("engine=UnexpectedMessageError|s2n=S2N_ERR_NULL", ("CLIENT_FINISHED!=SERVER_HELLO",),
         ["4.4.4.  Finished", "4.1.3.  Server Hello"]),
        ("Alert.level", ("alert",), ["6.  Alert Protocol"]),
        ("ChangeCipherSpec.type", ("change_cipher_spec",), ["5.  Record Protocol"]),
        ("TLSPlaintext.legacy_record_version", ("alert",), ["5.1.  Record Layer", "6.  Alert Protocol"]),
        ("SSLv2 negotiation", ("ServerHello",),
         ["D.5.  Security Restrictions Related to Backward Compatibility", "4.1.3.  Server Hello"]),
        ("TLSv1.2 negotiation", ("ServerHello",), ["4.2.1.  Supported Versions", "4.1.3.  Server Hello"]),
        ("ClientHello.extensions[3:server_name].extension_data", (), ["4.2.  Extensions"]),
        ("KeyUpdate.request_update", ("APPLICATION_DATA",),
         ["4.6.3.  Key and Initialization Vector Update", "5.2.  Record Payload Protection"]),
    ],
)  # fmt: skip
def test_names_lead_to_their_sections(field_path: str, messages: tuple[str, ...], headings: list[str]) -> None:
    assert [s.heading for s in governing_sections(field_path, *messages)] == headings


def test_a_crash_has_no_section() -> None:
    assert governing_sections("", "") == []


def test_section_text_is_the_rfcs() -> None:
    client_hello = section("4.1.2")
    assert client_hello.title == "Client Hello"
    assert client_hello.text.startswith("When a client first connects to a server, it is REQUIRED to send the")
    assert "legacy_compression_methods" in client_hello.text
    assert "4.1.3.  Server Hello" not in client_hello.text  # the section ends at the next heading
    assert section("D.5").url == "https://www.rfc-editor.org/rfc/rfc8446#appendix-D.5"
    assert section("4.2.8").url == "https://www.rfc-editor.org/rfc/rfc8446#section-4.2.8"
    assert section("D").heading == "Appendix D.  Backward Compatibility"


def test_page_furniture_is_gone() -> None:
    sections = _sections()
    assert len(sections) == 133  # every heading at column 0 of the RFC, appendices included
    for found in sections.values():
        assert "[Page " not in found.text
        assert "RFC 8446                           TLS" not in found.text
        assert "\f" not in found.text
        assert "\n\n\n" not in found.text


def test_an_unknown_section_is_refused() -> None:
    with pytest.raises(ValueError, match="no section '99'"):
        section("99")
