"""Time pipeline calls honestly: warm up, synchronize the device, repeat, report the median."""

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Timing:
    """Wall-clock seconds of each timed repeat."""

    seconds: list[float]

    @property
    def median(self) -> float:
        """Median of the repeats, in seconds."""
        return statistics.median(self.seconds)


def synchronize(device: torch.device) -> None:
    """Wait until queued work on `device` is done, so that a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_call(fn: Callable[[], Any], device: torch.device, repeats: int = 3, warmup: int = 1) -> tuple[Any, Timing]:
    """Call `fn` `warmup` times untimed, then `repeats` times timed; return the last result and the timings."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be at least 1 and warmup at least 0, got {repeats} and {warmup}")
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        result, elapsed = _timed(fn, device)
        seconds.append(elapsed)
    return result, Timing(seconds)


def time_side_by_side(
    fn: Callable[[], Any],
    settings: dict[str, Callable[[], AbstractContextManager]],
    device: torch.device,
    repeats: int = 3,
    warmup: int = 1,
) -> dict[str, tuple[Any, Timing]]:
    """Time `fn` under each of `settings` in turn, one call of each per round, and return each one's last result
    and timings.

    A setting is a function that returns a context manager applying it (`contextlib.nullcontext` for none);
    entering and leaving it is not timed. Timed one after another, the settings measured later met another
    state of a shared machine than the first (on a 2-core CPU the same call took 0.63 s as the first setting and
    0.48 s as the third), so each round calls every setting once and a slow moment falls on all of them alike.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be at least 1 and warmup at least 0, got {repeats} and {warmup}")
    results, seconds = {}, {name: [] for name in settings}
    for round_number in range(warmup + repeats):
        for name, setting in settings.items():
            with setting():
                results[name], elapsed = _timed(fn, device)
            if round_number >= warmup:
                seconds[name].append(elapsed)
    return {name: (results[name], Timing(seconds[name])) for name in settings}


def _timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float]:
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return result, time.perf_counter() - start
