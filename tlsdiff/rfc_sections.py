"""The RFC 8446 sections that govern a finding's message or field, quoted from the RFC itself.

The RFC ships with the package (``tlsdiff/data/rfc8446.txt``, the plain-text RFC as the RFC
Editor publishes it). Its sections are read at run time: a heading is a line at column 0
such as ``4.1.2.  Client Hello`` or ``Appendix D.  Backward Compatibility``; the page
furniture (footer, form feed, running header) is dropped. Names are looked up in one table
(``_SECTION_OF``): field-tree names (``HelloRetryRequest``, ``TLSPlaintext``), s2n state
names (``SERVER_CERT``), extension names (``key_share``) and the oracle's words (``alert``,
``SSLv2``), compared without case or underscores.

>>> governing_sections("HelloRetryRequest.extensions[1:key_share].selected_group", "handshake")[0].heading
'4.2.8.  Key Share'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

__all__ = ["RFC_URL", "Section", "governing_sections", "section"]

RFC_URL = "https://www.rfc-editor.org/rfc/rfc8446"
_HEADING = re.compile(r"^(?:Appendix )?(?P<number>[0-9]+|[A-Z])(?P<sub>(?:\.[0-9]+)*)\.  (?P<title>\S.*)$")
_FOOTER = re.compile(r"^Rescorla\s+Standards Track\s+\[Page \d+\]$")
_HEADER = re.compile(r"^RFC 8446\s+TLS\s+August 2018$")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_MAX_SECTIONS = 3

# Extensions other RFCs define: RFC 8446 lists them, and where they may appear, in 4.2.
_OTHER_EXTENSIONS = ("servername", "maxfragmentlength", "statusrequest", "usesrtp", "heartbeat", "padding",
                     "applicationlayerprotocolnegotiation", "signedcertificatetimestamp", "clientcertificatetype",
                     "servercertificatetype")  # fmt: skip
# Normalised name (lower case, no underscores) -> section. One place for every name a finding may carry.
_SECTION_OF = {
    **dict.fromkeys(("clienthello", "clienthelloextensions"), "4.1.2"),
    **dict.fromkeys(("serverhello", "legacysessionidecho"), "4.1.3"),
    **dict.fromkeys(("helloretryrequest", "helloretrymsg", "helloretryrequestrandom"), "4.1.4"),
    "extensions": "4.2",
    **dict.fromkeys(_OTHER_EXTENSIONS, "4.2"),
    **dict.fromkeys(("supportedversions", "selectedversion", "tlsv1"), "4.2.1"),
    "cookie": "4.2.2",
    **dict.fromkeys(("signaturealgorithms", "signaturealgorithmscert"), "4.2.3"),
    "certificateauthorities": "4.2.4",
    "oidfilters": "4.2.5",
    "posthandshakeauth": "4.2.6",
    "supportedgroups": "4.2.7",
    **dict.fromkeys(("keyshare", "selectedgroup", "serverkey"), "4.2.8"),
    "pskkeyexchangemodes": "4.2.9",
    "earlydata": "4.2.10",
    "presharedkey": "4.2.11",
    **dict.fromkeys(("encryptedextensions", "serverextensions"), "4.3.1"),
    **dict.fromkeys(("certificaterequest", "servercertreq"), "4.3.2"),
    **dict.fromkeys(("certificate", "servercert", "clientcert", "certdata", "certificatelist"), "4.4.2"),
    **dict.fromkeys(("certificateverify", "servercertverify", "clientcertverify"), "4.4.3"),
    **dict.fromkeys(("finished", "serverfinished", "clientfinished", "verifydata"), "4.4.4"),
    "endofearlydata": "4.5",
    **dict.fromkeys(("newsessionticket", "servernewsessionticket"), "4.6.1"),
    **dict.fromkeys(("keyupdate", "requestupdate", "peerkeyupdate", "targetkeyupdate"), "4.6.3"),
    "handshake": "4",
    **dict.fromkeys(("changecipherspec", "serverchangecipherspec", "clientchangecipherspec"), "5"),
    **dict.fromkeys(("tlsplaintext", "legacyrecordversion", "messages", "contenttype"), "5.1"),
    **dict.fromkeys(("tlsciphertext", "tlsinnerplaintext", "applicationdata", "encryptedrecord"), "5.2"),
    "alert": "6",
    **dict.fromkeys(("closenotify", "targetclose", "peerclose", "usercanceled"), "6.1"),
    "sslv2": "D.5",
}


@dataclass(frozen=True)
class Section:
    """One section of RFC 8446: its number, title and text (page furniture removed, indentation kept)."""

    number: str
    title: str
    text: str

    @property
    def heading(self) -> str:
        """The heading as the RFC prints it (``4.1.2.  Client Hello``, ``Appendix D.  Backward Compatibility``)."""
        prefix = "Appendix " if self.number.isalpha() else ""
        return f"{prefix}{self.number}.  {self.title}"

    @property
    def url(self) -> str:
        """The section's address at the RFC Editor."""
        kind = "appendix" if self.number[0].isalpha() else "section"
        return f"{RFC_URL}#{kind}-{self.number}"


def _body_lines() -> list[str]:
    """The RFC's lines without page furniture; the blank lines a page break leaves become one."""
    text = (files("tlsdiff") / "data" / "rfc8446.txt").read_text(encoding="utf-8")
    kept: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip().lstrip("\f")
        if _FOOTER.match(line) or _HEADER.match(line) or (not line and kept and not kept[-1]):
            continue
        kept.append(line)
    return kept


@cache
def _sections() -> dict[str, Section]:
    sections: dict[str, Section] = {}
    number, title, body = "", "", list[str]()
    for line in [*_body_lines(), "0.  end"]:
        match = _HEADING.match(line)
        if match is None:
            body.append(line[3:] if line.startswith("   ") else line)
            continue
        if number:
            sections[number] = Section(number, title, "\n".join(body).strip("\n"))
        number, title, body = match["number"] + match["sub"], match["title"], []
    return sections


def section(number: str) -> Section:
    """Section ``number`` (``"4.1.2"``, ``"D.5"``) of RFC 8446."""
    found = _sections().get(number)
    if found is None:
        raise ValueError(f"RFC 8446 has no section {number!r}")
    return found


def _normalised(name: str) -> str:
    return name.replace("_", "").lower()


def _numbers(text: str, *, deepest_first: bool) -> list[str]:
    names = _NAME.findall(text)
    return [_SECTION_OF[key] for key in map(_normalised, reversed(names) if deepest_first else names)
            if key in _SECTION_OF]  # fmt: skip


def governing_sections(field_path: str, *messages: str) -> list[Section]:
    """The sections that govern a finding: its field's (the deepest name the table knows), then its messages'.

    >>> [s.number for s in governing_sections("Alert.level", "alert")]
    ['6']
    >>> [s.number for s in governing_sections("engine=DecodeError|s2n=waiting", "SERVER_CERT!=SERVER_CERT_VERIFY")]
    ['4.4.2', '4.4.3']
    """
    found = _numbers(field_path, deepest_first=True)[:1]
    for message in messages:
        found += _numbers(message, deepest_first=False)
    return [section(number) for number in _unique(found)[:_MAX_SECTIONS]]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
