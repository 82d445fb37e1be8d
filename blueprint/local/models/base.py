"""What the state-machine models share: refusals, durations counted in polls, virtual time.

Time in the models is *virtual*. A change takes effect after a number of the describe calls
a client makes to watch it (``Durations``), not after wall-clock seconds: a test then runs
in milliseconds and behaves the same on a loaded machine. Code under test that sleeps
between polls (boto3 waiters) sleeps on a :class:`VirtualClock` instead, which is also what a
fake Lambda context measures its remaining time against.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import botocore.waiter


@dataclass(frozen=True)
class AwsError(Exception):
    """An AWS error the model raises; the moto adapter turns it into the service's error."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Durations:
    """How many describe calls successive changes stay in their transitional state.

    An ``int`` is the same for every change; a sequence gives the first changes their own
    durations and its last value repeats (``[10, 1]``: a slow first change, quick ones after).
    """

    def __init__(self, values: int | Sequence[int]) -> None:
        self._values = [values] if isinstance(values, int) else list(values)
        if not self._values or min(self._values) < 0:
            raise ValueError(f"durations must be non-negative describe counts, got {values!r}")
        self._index = 0

    def next(self) -> int:
        value = self._values[min(self._index, len(self._values) - 1)]
        self._index += 1
        return value


class VirtualClock:
    """Seconds that pass only when someone sleeps on this clock."""

    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self._now += max(0.0, seconds)


class _SleepOn:
    """Stands in for the ``time`` module inside ``botocore.waiter`` (it only calls sleep)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.sleep = clock.sleep


@contextmanager
def waiters_sleep_on(clock: VirtualClock) -> Iterator[None]:
    """boto3 waiters in this process sleep on ``clock`` instead of the wall clock.

    Process-wide while active (botocore's waiter module is shared), so only the models'
    in-process Lambda invocations use it, for exactly the length of one invocation.
    """
    real = getattr(botocore.waiter, "time")  # noqa: B009 (not exported to type checkers)
    setattr(botocore.waiter, "time", _SleepOn(clock))  # noqa: B010
    try:
        yield
    finally:
        setattr(botocore.waiter, "time", real)  # noqa: B010
