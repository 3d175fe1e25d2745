"""A KeyUpdate split over records: an s2n server takes the header in pieces, never the body.

s2n reassembles post-handshake messages in ``conn->post_handshake.in``; a server keeps it
the static 4-byte ``header_in`` (tls/s2n_post_handshake.h:28) and refuses a body that is
not whole in the record that ends the header (tls/s2n_post_handshake.c:120-129,
S2N_ERR_BAD_MESSAGE); a client grows the buffer (:131-138) and reads on. Found by
``conversation_diff`` (``verdict/server/event0:peer_key_update/APPLICATION_DATA/
engine=complete|s2n=S2N_ERR_BAD_MESSAGE``): a KeyUpdate announcing 2 body bytes with 1 in
its record. Every case runs the engine and s2n side by side (tests/engine/conversation.py).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from engine.config import Compat
from engine.connection import TLSConnection
from engine.errors import UnexpectedMessageError
from engine.handshake.post import check_post_handshake_fragment
from engine.instrument import PlaintextRecord
from tests.engine.conversation import Rewrite, assert_lockstep, conversation, sides
from tests.engine.lockstep import engine_connection
from tlsdiff.harness import Role, Status

pytestmark = pytest.mark.openssl_engine


def _split_key_update(content: bytes, cuts: tuple[int, ...], *, drop_rest: bool = False) -> Rewrite:
    """The peer's KeyUpdate record made ``content``, cut into records at ``cuts``."""

    def rewrite(flight: int, connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        if not connection.handshake_complete or records[0].content[:1] != b"\x18":
            return records
        update, bounds = records[0], (0, *cuts, len(content))
        pieces = [replace(update, content=content[a:b]) for a, b in pairwise(bounds)]
        return pieces if drop_rest else [*pieces, *records[1:]]

    return rewrite


# A KeyUpdate that announces 2 body bytes: s2n reads the first (Compat.lenient_key_update).
_LONG_UPDATE = bytes([24, 0, 0, 2, 0, 9])


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
@pytest.mark.parametrize(
    ("content", "cuts", "server_refuses"),
    [
        (bytes([24, 0, 0, 1, 0]), (2,), False),  # the header in two records, the body whole in the second
        (bytes([24, 0, 0, 1, 0]), (4,), False),  # the header alone, then the body (S2N_ERR_IO_BLOCKED, :101)
        (bytes([24, 0, 0, 1, 0]), (1, 2, 3), False),  # the header a byte a record
        (_LONG_UPDATE, (5,), True),  # the body split: :129
        (_LONG_UPDATE, (2, 5), True),  # the header split too, the body still split
        (_LONG_UPDATE, (4, 5), True),  # the header alone, then half the body
    ],
    ids=["header-split", "header-then-body", "header-bytewise", "body-split", "both-split", "header-half-body"],
)
def test_a_split_key_update_is_read_as_s2n_reads_it(
    role: Role, content: bytes, cuts: tuple[int, ...], server_refuses: bool
) -> None:
    with conversation(sides(role), rewrite=_split_key_update(content, cuts)) as run:
        run.handshake()
        update = run.peer.key_update(request_peer=False)
        sent = run.peer.send(b"after")
        step = run.deliver("peer-update", update.output + sent.output)
        steps = run.steps
    assert_lockstep(steps)
    refused = server_refuses and role is Role.SERVER
    assert (step.s2n.status is Status.FAILED) is refused
    if refused:
        assert step.s2n.error == "S2N_ERR_BAD_MESSAGE" and step.engine.error == "UnexpectedMessageError"
    else:
        assert step.s2n.data == step.engine.data == b"after"


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
def test_a_body_that_never_ends_is_refused_by_a_server_at_once(role: Role) -> None:
    # The finding's shape: 18 00 00 02 01 and no more; the server does not wait for the missing byte.
    with conversation(sides(role), rewrite=_split_key_update(bytes([24, 0, 0, 2, 1]), (), drop_rest=True)) as run:
        run.handshake()
        update = run.peer.key_update(request_peer=False)
        step = run.deliver("peer-update", update.output + run.peer.send(b"dropped").output)
        steps = run.steps
    assert_lockstep(steps)
    assert (step.s2n.status is Status.FAILED) is (role is Role.SERVER)


def test_the_rfc_mode_reassembles_on_a_server() -> None:
    # RFC 8446 section 5.1 lets a handshake message span records (only not key changes).
    rfc = engine_connection("default_tls13", "ecdsa-p256", 4, client=False, compat=Compat.rfc())
    s2n = engine_connection("default_tls13", "ecdsa-p256", 4, client=False, compat=Compat.s2n())
    check_post_handshake_fragment(rfc.ctx, 5)
    check_post_handshake_fragment(s2n.ctx, 4)
    with pytest.raises(UnexpectedMessageError):
        check_post_handshake_fragment(s2n.ctx, 5)
