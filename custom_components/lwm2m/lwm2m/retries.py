"""The communication retry resources of the Server object (LwM2M 1.1: /1/x/17 to /1/x/20).

They say how a device retries when its server does not answer: Communication Retry Count
attempts per sequence, the first after Communication Retry Timer seconds and each later one
after twice the one before; then Communication Sequence Delay Timer seconds until the next
sequence, up to Communication Sequence Retry Count sequences before the registration counts
as failed. The specification's defaults (5 attempts, 60 s, a day, one sequence) give up on a
server after about a quarter of an hour; a device that hit a server restart should rather
keep trying until the server is back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .path import Path
from .values import Value

SERVER_OBJECT = 1
RETRY_COUNT, RETRY_TIMER, SEQUENCE_DELAY, SEQUENCE_RETRY_COUNT = 17, 18, 19, 20

# 5 attempts 10, 20, 40 and 80 s apart (2.5 minutes), then a sequence every 5 minutes, 12 of
# them: a device keeps trying for about an hour and a half before it gives up on the server.
RETRY_VALUES: Mapping[int, int] = {
    RETRY_COUNT: 5,
    RETRY_TIMER: 10,
    SEQUENCE_DELAY: 300,
    SEQUENCE_RETRY_COUNT: 12,
}


def retry_settings(instances: Iterable[Path], values: Mapping[Path, Value | None]) -> tuple[Path, dict[int, int]]:
    """Return the Server object instance to write and the retry values it lacks.

    Only a device with one Server object instance (the usual single-server device: with
    several, which one is ours is not known) and only the resources its own read showed; an
    empty dict when there is nothing to write.
    """
    servers = [path for path in instances if path.depth == 2 and path.ids[0] == SERVER_OBJECT]
    if len(servers) != 1:
        return Path.of(SERVER_OBJECT), {}
    server = servers[0]
    changes: dict[int, int] = {}
    for resource_id, wanted in RETRY_VALUES.items():
        current = values.get(server.child(resource_id))
        if current is not None and current != wanted:
            changes[resource_id] = wanted
    return server, changes
