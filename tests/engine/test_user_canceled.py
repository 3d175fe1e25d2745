"""A user_canceled alert once the version is established: s2n-tls drops it and reads on.

tls/s2n_alerts.c:203-218 (``s2n_process_as_warning``): in TLS 1.3, once
``actual_protocol_version_established`` is set, user_canceled is the one alert s2n treats as a
warning, whatever its level; before that (a server that has not yet written its ServerHello)
it fails on it as on any alert. ``Compat.ignore_user_canceled`` models it; RFC 8446 section 6.1
(the switch off) makes it a closure alert after which nothing is read, which the engine
reports as the end of the peer's data (``ConnectionClosed``). Found by ``conversation_diff``
(``verdict/server/event0:peer_alert/state/engine=peer_alert(90)|s2n=complete``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.config import Compat
from engine.connection import TLSConnection
from engine.errors import AlertDescription
from engine.instrument import PlaintextRecord
from tests.engine.conversation import Conversation, Rewrite, assert_lockstep, conversation, sides
from tlsdiff.harness import Role, Status

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws

_ALERT, _APPLICATION_DATA = 21, 23
_DATA = b"after the alert"


def _alert_before_data(level: int) -> Rewrite:
    """A rewrite putting a user_canceled alert, protected like it, before the peer's first application data record."""

    def rewrite(flight: int, connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        rewritten: list[PlaintextRecord] = []
        for record in records:
            if record.content_type == _APPLICATION_DATA and record.protection is not None:
                alert = bytes([level, AlertDescription.USER_CANCELED])
                rewritten.append(replace(record, content_type=_ALERT, content=alert))
            rewritten.append(record)
        return rewritten

    return rewrite


def _data_after_handshake(talk: Conversation) -> None:
    talk.handshake()
    sent = talk.peer.send(_DATA)
    talk.deliver("peer_data", sent.output)


@pytest.mark.parametrize("level", [1, 2], ids=["warning", "fatal"])
@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT], ids=["server", "client"])
def test_user_canceled_after_the_handshake_is_dropped_by_both(role: Role, level: int) -> None:
    with conversation(sides(role), rewrite=_alert_before_data(level)) as talk:
        _data_after_handshake(talk)
    assert_lockstep(talk.steps)
    last = talk.steps[-1]
    assert (last.engine.status, last.engine.data) == (Status.COMPLETE, _DATA)
    assert (last.s2n.status, last.s2n.data) == (Status.COMPLETE, _DATA)


def test_before_the_version_is_established_it_ends_the_handshake_for_both() -> None:
    # A server that has read no ClientHello yet: its version is not established.
    setups = sides(Role.SERVER)
    with conversation(setups) as talk:
        talk.deliver("alert", bytes.fromhex("1503010002015a"))
    assert_lockstep(talk.steps)
    assert talk.steps[-1].s2n.status is Status.PEER_ALERT


def test_the_rfc_reading_takes_it_as_a_closure_alert() -> None:
    setups = sides(Role.SERVER)
    target = replace(setups.target, compat="rfc")
    with conversation(replace(setups, target=target), rewrite=_alert_before_data(1)) as talk:
        _data_after_handshake(talk)
    engine = talk.steps[-1].engine
    assert (engine.status, engine.data) == (Status.PEER_CLOSED, b"")


def test_the_switch_is_on_by_default_and_off_in_the_rfc_mode() -> None:
    assert Compat().ignore_user_canceled and not Compat.rfc().ignore_user_canceled
