"""Time pipeline calls honestly: warm up, synchronize the device, repeat, report the median."""

import statistics
import time
from collections.abc import Callable
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
        synchronize(device)
        start = time.perf_counter()
        result = fn()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return result, Timing(seconds)
