"""Measure the peak memory of a pipeline call, and find the largest batch that fits a budget."""

import ctypes
import functools
import re
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .timing import time_call, time_side_by_side

UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "KB": 10**3, "MB": 10**6, "GB": 10**9}
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
# glibc's thresholds once its own adjustment has grown them for large blocks (the 64-bit maximum, and twice it).
STEADY_MMAP_THRESHOLD, STEADY_TRIM_THRESHOLD = 32 * 2**20, 64 * 2**20


def parse_size(text: str) -> int:
    """Bytes in a size such as `16GiB`, `512MiB` or `2GB`."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)\s*", str(text))
    if not match:
        raise ValueError(f"memory size {text!r} is not a number with a unit; accepted units: {', '.join(UNITS)}")
    return int(float(match.group(1)) * UNITS[match.group(2)])


def format_size(size: int | None) -> str:
    """A byte count in MiB or GiB, or `n/a` when unknown."""
    if size is None:
        return "n/a"
    return f"{size / 2**30:.2f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def _status_bytes(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1)) * 1024


def cpu_peak_supported() -> bool:
    """Whether this process can reset and read its own peak resident memory (Linux with glibc)."""
    return sys.platform == "linux" and Path("/proc/self/clear_refs").exists()


def _reset_cpu_peak() -> int:
    """Hand freed memory back to the OS, reset the process's peak resident size, return the current size.

    glibc keeps freed blocks for reuse, so resident memory would stay high after a call and hide the
    next call's peak. A fixed mmap threshold makes every block of 128 KiB or more (every tensor that
    matters) come from the OS and go back to it when freed; malloc_trim releases what is left over.
    Writing 5 to /proc/self/clear_refs sets the kernel's peak (VmHWM) back to the current size (VmRSS).
    """
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    libc.malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def _end_cpu_peak() -> None:
    """Put glibc's thresholds where its own adjustment leaves them, so that later calls run at full speed.

    Under the 128 KiB threshold every large tensor costs an mmap and fresh page faults, which makes a
    large model's calls markedly slower. Setting a threshold switches glibc's adjustment off for good,
    so the steady values are set explicitly.
    """
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(M_MMAP_THRESHOLD, STEADY_MMAP_THRESHOLD)
    libc.mallopt(M_TRIM_THRESHOLD, STEADY_TRIM_THRESHOLD)


class PeakMemory:
    """The peak memory of the code in a `with PeakMemory(device) as peak:` block above what was in use before it,
    in bytes, as `peak.bytes` once the block ends.

    On CUDA this is `torch.cuda.max_memory_allocated`; on a Linux CPU the peak resident size of the
    whole process (the kernel's VmHWM), which counts every allocation, not only tensors. Where
    neither is available (MPS, macOS, Windows) `bytes` stays None. On a CPU the measurement makes
    every large tensor come fresh from the OS, which slows the code down: time it in another call.
    """

    def __init__(self, device: torch.device | str):
        self.device = torch.device(device)
        self.bytes: int | None = None
        self._cpu = self.device.type == "cpu" and cpu_peak_supported()

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._before = torch.cuda.memory_allocated(self.device)
        elif self._cpu:
            self._before = _reset_cpu_peak()
        return self

    def __exit__(self, *error) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device) - self._before
        elif self._cpu:
            try:
                self.bytes = _status_bytes("VmHWM") - self._before
            finally:
                _end_cpu_peak()


def peak_memory(fn: Callable[[], Any], device: torch.device) -> tuple[Any, int | None]:
    """Call `fn`; return its result and its peak memory above what was in use before, in bytes (see PeakMemory)."""
    with PeakMemory(device) as peak:
        result = fn()
    return result, peak.bytes


def available_cpu_memory() -> int:
    """Bytes the kernel says can be allocated without swapping (MemAvailable)."""
    text = Path("/proc/meminfo").read_text()
    return int(re.search(r"^MemAvailable:\s+(\d+) kB", text, re.MULTILINE).group(1)) * 1024


def _cuda_index(device: torch.device) -> int:
    """The index of a CUDA device; plain `cuda` means the current one."""
    return torch.cuda.current_device() if device.index is None else device.index


def largest_batch(
    run_batch: Callable[[int], Any], device: torch.device, budget: int, max_batch_size: int
) -> tuple[int, list[dict]]:
    """The largest power-of-two batch size up to `max_batch_size` whose call fits in `budget` bytes.

    The budget is what a call may use on top of what is already in use (the loaded pipeline). On
    CUDA it is enforced: the process may use only that much more of the GPU
    (`torch.cuda.set_per_process_memory_fraction`) and a size fits if it raises no out-of-memory
    error. On a CPU the measured peak of each size is compared with the budget, and a size whose
    peak, extrapolated from the last one, would not fit in the machine's free memory is not tried.
    Returns the size (0 if none fits) and one row per size tried.
    """
    if device.type == "cpu" and not cpu_peak_supported():
        raise ValueError("the CPU peak memory of a call can only be measured on Linux")
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        allowed = budget + torch.cuda.memory_allocated(device)
        if allowed > total:
            raise ValueError(f"memory budget {format_size(budget)} is more than this GPU has free")
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(allowed / total, _cuda_index(device))
    tries, best, size = [], 0, 1
    try:
        while size <= max_batch_size:
            if device.type == "cpu" and tries:
                expected = tries[-1]["peak"] * size / tries[-1]["batch_size"]
                if expected > available_cpu_memory():
                    tries.append({"batch_size": size, "peak": None, "fits": False, "note": "would exceed free memory"})
                    break
            try:
                _, peak = peak_memory(functools.partial(run_batch, size), device)
            except torch.OutOfMemoryError:
                torch.cuda.empty_cache()
                tries.append({"batch_size": size, "peak": None, "fits": False, "note": "out of memory"})
                break
            fits = peak <= budget
            tries.append({"batch_size": size, "peak": peak, "fits": fits, "note": ""})
            if not fits:
                break
            best, size = size, size * 2
    finally:
        if device.type == "cuda":
            torch.cuda.set_per_process_memory_fraction(1.0, _cuda_index(device))
            torch.cuda.empty_cache()
    return best, tries


ATTENTION_KINDS = ("sdpa", "classic", "sliced")


@contextmanager
def attention_kind(pipeline, kind: str):
    """Attend with `kind` (see use_attention) inside a with block; PyTorch's fused kernel again after it."""
    use_attention(pipeline, kind)
    try:
        yield
    finally:
        pipeline.disable_attention_slicing()
        use_attention(pipeline, "sdpa")


def use_attention(pipeline, kind: str) -> None:
    """Make the UNet attend with PyTorch's fused kernel (`sdpa`), the full matrix (`classic`) or in slices."""
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    if kind not in ATTENTION_KINDS:
        raise ValueError(f"unknown attention {kind!r}; accepted: {', '.join(ATTENTION_KINDS)}")
    pipeline.unet.set_attn_processor(AttnProcessor() if kind == "classic" else AttnProcessor2_0())
    if kind == "sliced":
        pipeline.enable_attention_slicing()


@dataclass
class Measurement:
    """What one measured pipeline call gave: its result, median seconds and peak memory in bytes."""

    result: Any
    seconds: float
    peak: int | None


def measure(fn: Callable[[], Any], device: torch.device, repeats: int = 1, warmup: int = 0) -> Measurement:
    """Time `fn` as `time_call` does, then measure the peak memory of one more call of it.

    The peak is measured apart from the timed calls, as `sdtutorial bench` does: on a CPU the
    measurement makes every large tensor come fresh from the OS (see `peak_memory`), which slows a
    call down, so timing under it would inflate the seconds.
    """
    result, timing = time_call(fn, device, repeats=repeats, warmup=warmup)
    _, peak = peak_memory(fn, device)
    return Measurement(result, timing.median, peak)


def measure_side_by_side(
    fn: Callable[[], Any],
    settings: dict[str, Callable[[], AbstractContextManager]],
    device: torch.device,
    repeats: int = 1,
    warmup: int = 0,
) -> dict[str, Measurement]:
    """Time `fn` under each of `settings` in turn as `time_side_by_side` does, then measure the peak memory of one
    more call under each."""
    timed = time_side_by_side(fn, settings, device, repeats=repeats, warmup=warmup)
    measurements = {}
    for name, setting in settings.items():
        with setting():
            _, peak = peak_memory(fn, device)
        result, timing = timed[name]
        measurements[name] = Measurement(result, timing.median, peak)
    return measurements
