import subprocess
import sys
import time
from contextlib import contextmanager
from functools import partial

import numpy as np
import pytest
import torch

from sdtutorial.memory import (
    cpu_peak_supported,
    format_size,
    largest_batch,
    measure,
    measure_side_by_side,
    parse_size,
    peak_memory,
    use_attention,
)

CPU = torch.device("cpu")


def allocate(mib: int) -> int:
    """Allocate and touch `mib` MiB, so the pages are really resident, and return a checksum."""
    block = np.ones(mib * 2**20, dtype=np.uint8)
    return int(block[:: 4096].sum())


@pytest.mark.parametrize(("text", "size"), [("16GiB", 16 * 2**30), ("512MiB", 512 * 2**20), ("1.5KB", 1500), ("7B", 7)])
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_parse_size_refuses_sizes_without_units():
    with pytest.raises(ValueError, match="memory size '16' is not a number with a unit; accepted units: B, KiB"):
        parse_size("16")


def test_format_size():
    assert format_size(3 * 2**30) == "3.00 GiB"
    assert format_size(5 * 2**20) == "5.0 MiB"
    assert format_size(None) == "n/a"


def test_cpu_peak_sees_a_temporary_allocation():
    _, small = peak_memory(lambda: allocate(8), CPU)
    _, large = peak_memory(lambda: allocate(64), CPU)
    assert 6 * 2**20 < small < 20 * 2**20
    assert 60 * 2**20 < large < 80 * 2**20


def test_largest_batch_on_cpu_compares_measured_peaks_with_the_budget():
    best, tries = largest_batch(lambda size: allocate(10 * size), CPU, budget=50 * 2**20, max_batch_size=16)
    assert best == 4
    assert [t["batch_size"] for t in tries] == [1, 2, 4, 8]
    assert [t["fits"] for t in tries] == [True, True, True, False]


def test_a_budget_below_one_image_fits_no_batch():
    best, tries = largest_batch(lambda size: allocate(4 * size), CPU, budget=1024, max_batch_size=16)
    assert best == 0 and [t["fits"] for t in tries] == [False]


def test_largest_batch_stops_at_max_batch_size():
    best, tries = largest_batch(lambda size: allocate(size), CPU, budget=2**30, max_batch_size=4)
    assert best == 4 and len(tries) == 3


def test_measure_times_calls_apart_from_the_peak_measurement(monkeypatch):
    import sdtutorial.memory as memory

    measuring, inside = [], []
    reset, end = memory._reset_cpu_peak, memory._end_cpu_peak
    monkeypatch.setattr(memory, "_reset_cpu_peak", lambda: measuring.append(1) or reset())
    monkeypatch.setattr(memory, "_end_cpu_peak", lambda: measuring.pop() and end())

    def call():
        inside.append(bool(measuring))
        time.sleep(0.05)
        return allocate(32)

    m = measure(call, CPU, repeats=2)
    assert inside == [False, False, True]  # two timed calls, then one call for the peak
    assert m.peak > 30 * 2**20 and m.result == allocate(1) * 32
    assert 0.05 <= m.seconds < 0.5


@pytest.mark.skipif(not cpu_peak_supported(), reason="CPU peaks are measured on Linux with glibc only")
def test_side_by_side_measures_each_setting_in_its_own_state():
    size = {"small": 8, "large": 64}
    current = []

    @contextmanager
    def setting(name):
        current.append(name)
        yield
        current.pop()

    settings = {name: partial(setting, name) for name in size}
    measured = measure_side_by_side(lambda: allocate(size[current[-1]]), settings, CPU, repeats=2)
    assert [m.result for m in measured.values()] == [allocate(8), allocate(64)]  # each call in its own setting
    assert 6 * 2**20 < measured["small"].peak < measured["large"].peak and measured["large"].peak > 60 * 2**20
    assert all(m.seconds > 0 for m in measured.values())


def test_unknown_attention_is_refused():
    with pytest.raises(ValueError, match="unknown attention 'xformers'; accepted: sdpa, classic, sliced"):
        use_attention(None, "xformers")


MMAPPED_BLOCKS_SCRIPT = """
import ctypes, torch
from sdtutorial.memory import peak_memory

class MallocInfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks "
                "fordblks keepcost".split()]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallocInfo
libc.malloc.restype = ctypes.c_void_p

def mmapped_blocks_for_one_mebibyte():
    before = libc.mallinfo2().hblks
    block = libc.malloc(2**20)
    after = libc.mallinfo2().hblks
    libc.free(ctypes.c_void_p(block))
    return after - before

inside, _ = peak_memory(mmapped_blocks_for_one_mebibyte, torch.device("cpu"))
print(inside, mmapped_blocks_for_one_mebibyte())
"""


@pytest.mark.skipif(not cpu_peak_supported(), reason="CPU peaks are measured on Linux with glibc only")
def test_cpu_peak_maps_large_blocks_only_while_it_measures():
    # A fresh process, whose heap has no large free blocks that glibc would hand out instead of mapping.
    done = subprocess.run([sys.executable, "-c", MMAPPED_BLOCKS_SCRIPT], capture_output=True, text=True, check=True)
    inside, afterwards = done.stdout.split()
    assert inside == "1"  # while measuring, a freed tensor leaves resident memory, so the next peak shows
    assert afterwards == "0"  # afterwards glibc keeps large blocks for reuse again: later calls stay fast
