"""Faults a sandbox server answers with instead of serving, and seeded plans of them.

Faults are driven by request counters, never by the clock or by chance at request time:
a plan says which request (counted from when it is scheduled) fails and how, so a test
that replays a seed sees the same failures at the same requests.
"""

import random
from collections.abc import Sequence
from enum import StrEnum


class Fault(StrEnum):
    """A transport failure: the request is served, but the client does not get the answer."""

    TIMEOUT = "timeout"  # the answer leaves only after the server's stall_seconds
    TRUNCATE = "truncate"  # the headers and half the body go out, then the connection drops


# An int answers that HTTP status (the vendor's error body; for Yandex 201/202 "not ready").
FaultKind = int | Fault

TRANSIENT_STATUSES = (429, 500, 502, 503, 504)


def seeded_faults(
    seed: int,
    *,
    requests: int,
    share: float,
    kinds: Sequence[FaultKind],
    max_in_a_row: int,
) -> dict[int, FaultKind]:
    """A plan {request number from 1: fault} over the next `requests` requests.

    About `share` of the requests fail, with kinds drawn from `kinds`; never more than
    `max_in_a_row` consecutive requests fail, so a client that retries a request more
    often than that always gets through.
    """
    if not 0 <= share < 1:
        raise ValueError(f"share must be in [0, 1), got {share}")
    if max_in_a_row < 1:
        raise ValueError(f"max_in_a_row must be at least 1, got {max_in_a_row}")
    rng = random.Random(f"sandbox-faults-{seed}")
    plan: dict[int, FaultKind] = {}
    in_a_row = 0
    for number in range(1, requests + 1):
        if in_a_row < max_in_a_row and rng.random() < share:
            plan[number] = rng.choice(kinds)
            in_a_row += 1
        else:
            in_a_row = 0
    return plan
