"""Time pipeline calls honestly: warm up, synchronize the device, repeat, report the median."""

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch


class Timer:
    """Times the code in each `with timer:` block, waiting for `device` at both ends; keeps every time.

    As in d2l's Timer, the timing stays visible around the code it times:

        timer = Timer(device, warmup=1)  # the first block warms up and is not counted
        for _ in range(4):
            with timer:
                images = pipeline(**get_inputs(prompt)).images
        timer.median
    """

    def __init__(self, device: torch.device | str = "cpu", warmup: int = 0, seconds: list[float] | None = None):
        self.device = torch.device(device)
        self.warmup = warmup
        self.seconds = list(seconds or [])
        self.blocks = 0

    def __enter__(self) -> "Timer":
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *error) -> None:
        synchronize(self.device)
        self.blocks += 1
        if self.blocks > self.warmup:
            self.seconds.append(time.perf_counter() - self._start)

    @property
    def median(self) -> float:
        """Median of the timed blocks, in seconds."""
        return statistics.median(self.seconds)


def synchronize(device: torch.device) -> None:
    """Wait until queued work on `device` is done, so that a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_call(fn: Callable[[], Any], device: torch.device, repeats: int = 3, warmup: int = 1) -> tuple[Any, Timer]:
    """Call `fn` `warmup` times untimed, then `repeats` times timed; return the last result and the timer."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be at least 1 and warmup at least 0, got {repeats} and {warmup}")
    timer = Timer(device, warmup=warmup)
    for _ in range(warmup + repeats):
        with timer:
            result = fn()
    return result, timer


def time_side_by_side(
    fn: Callable[[], Any],
    settings: dict[str, Callable[[], AbstractContextManager]],
    device: torch.device,
    repeats: int = 3,
    warmup: int = 1,
) -> dict[str, tuple[Any, Timer]]:
    """Time `fn` under each of `settings` in turn, one call of each per round, and return each one's last result
    and timer.

    A setting is a function that returns a context manager applying it (`contextlib.nullcontext` for none);
    entering and leaving it is not timed. Timed one after another, the settings measured later meet another
    state of a shared machine than the first, so each round calls every setting once and a slow moment falls on
    all of them alike.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be at least 1 and warmup at least 0, got {repeats} and {warmup}")
    results, timers = {}, {name: Timer(device, warmup=warmup) for name in settings}
    for _ in range(warmup + repeats):
        for name, setting in settings.items():
            with setting(), timers[name]:
                results[name] = fn()
    return {name: (results[name], timers[name]) for name in settings}


class ModuleClock:
    """Adds up the seconds spent inside `module`'s calls while in its block, waiting for `device` at both ends
    of each call, e.g. the UNet's share of a pipeline call:

        with ModuleClock(pipeline.unet, device) as unet_clock:
            pipeline(**inputs)
        unet_clock.seconds
    """

    def __init__(self, module: torch.nn.Module, device: torch.device):
        self.module, self.device = module, device
        self.seconds, self.calls = 0.0, 0

    def __enter__(self) -> "ModuleClock":
        def start(*_):
            synchronize(self.device)
            self._start = time.perf_counter()

        def stop(*_):
            synchronize(self.device)
            self.seconds += time.perf_counter() - self._start
            self.calls += 1

        self._hooks = [self.module.register_forward_pre_hook(start), self.module.register_forward_hook(stop)]
        return self

    def __exit__(self, *error) -> None:
        for hook in self._hooks:
            hook.remove()
