"""Nothing a client sends can crash a session or the server: seeded random messages over the real socket.

Every message is a well-formed msgpack map (malformed frames have their own tests), built
from the protocol's own types and field names with values of every shape. After
`session.ready` such messages may only ever earn non-fatal errors; `session.start` may be
refused, but only with a protocol error, never `internal_error`.
"""

from __future__ import annotations

import random

from realtime.protocol.errors import ErrorCode
from tests.conftest import run
from tests.support.fuzz import MESSAGE_TYPES, message
from tests.support.stream_checks import ping_fence
from tests.support.wire_checks import speaks
from tests.wire import Wire

SEED = 20261125
START_REFUSALS = {ErrorCode.BAD_MESSAGE, ErrorCode.BAD_REFERENCE_AUDIO, ErrorCode.UNKNOWN_VOICE, ErrorCode.TEXT_TOO_LONG}


def test_random_messages_after_ready_only_ever_earn_non_fatal_errors(server) -> None:
    rng = random.Random(SEED)
    types = tuple(kind for kind in MESSAGE_TYPES if kind != "session.end")

    async def body() -> None:
        wire = await Wire.open(server.url)
        try:
            await wire.start(seed=1)
            sent = []
            for batch in range(25):
                sent = [message(rng, types) for _ in range(8)]
                for item in sent:
                    await wire.send(item)
                seen = await ping_fence(wire, token=batch)  # the session still answers, in order
                for reply in seen:
                    if reply.get("type") == "error":
                        assert reply["fatal"] is False and reply["code"] != ErrorCode.INTERNAL_ERROR, (sent, reply)
            await wire.send({"type": "cancel", "ctx": "*"})
            await speaks(wire, ctx="after-the-noise")  # and still speaks
        finally:
            await wire.close()

    run(body(), timeout=110)


def test_random_session_starts_are_answered_or_refused_with_a_protocol_error(server) -> None:
    rng = random.Random(SEED + 1)

    async def one() -> None:
        start = message(rng, ("session.start",))
        wire = await Wire.open(server.url)
        try:
            await wire.send(start)
            reply = await wire.recv()
            if reply["type"] == "error":
                assert reply["fatal"] is True and reply["code"] in START_REFUSALS, (start, reply)
            else:
                assert reply["type"] == "session.ready", (start, reply)
        finally:
            await wire.close()

    async def body() -> None:
        for _ in range(60):
            await one()

    run(body(), timeout=110)
