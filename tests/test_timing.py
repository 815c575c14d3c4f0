import time
from contextlib import contextmanager, nullcontext
from functools import partial

import pytest
import torch

from sdtutorial.timing import Timer, time_call, time_side_by_side


def test_warmup_runs_are_not_timed():
    calls = []
    result, timing = time_call(lambda: calls.append(1) or len(calls), torch.device("cpu"), repeats=3, warmup=2)
    assert len(calls) == 5
    assert result == 5
    assert len(timing.seconds) == 3


def test_each_repeat_times_one_call():
    _, timing = time_call(lambda: time.sleep(0.05), torch.device("cpu"), repeats=2, warmup=0)
    assert len(timing.seconds) == 2 and all(s >= 0.05 for s in timing.seconds)


def test_a_timer_leaves_out_its_warm_up_blocks():
    timer = Timer("cpu", warmup=2)
    for _ in range(5):
        with timer:
            pass
    assert timer.blocks == 5 and len(timer.seconds) == 3


def test_median():
    assert Timer(seconds=[3.0, 1.0, 2.0]).median == 2.0


def test_a_timer_keeps_one_time_per_with_block_and_times_only_the_block():
    timer = Timer("cpu")
    for pause in (0.02, 0.05):
        with timer:
            time.sleep(pause)
        time.sleep(1.0)  # outside the block: counted, it would add a second, a margin no busy machine closes
    assert len(timer.seconds) == 2
    assert 0.02 <= timer.seconds[0] < 1.0 and 0.05 <= timer.seconds[1] < 1.0


def test_bad_repeats_are_refused():
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        time_call(lambda: None, torch.device("cpu"), repeats=0)


def test_side_by_side_takes_one_call_of_each_setting_per_round():
    calls = []

    @contextmanager
    def setting(name):
        calls.append(f"enter {name}")
        yield
        calls.append(f"leave {name}")

    settings = {name: partial(setting, name) for name in ["a", "b"]}
    timed = time_side_by_side(lambda: len(calls), settings, torch.device("cpu"), repeats=2, warmup=1)
    assert calls == ["enter a", "leave a", "enter b", "leave b"] * 3
    assert [result for result, _ in timed.values()] == [9, 11]  # the last round's calls, inside their settings
    assert all(len(timing.seconds) == 2 for _, timing in timed.values())


def test_side_by_side_times_the_call_inside_the_setting_and_not_the_setting():
    @contextmanager
    def slow_to_enter():
        time.sleep(2.0)
        yield

    timed = time_side_by_side(lambda: time.sleep(0.01), {"plain": nullcontext, "slow": slow_to_enter},
                              torch.device("cpu"), repeats=1, warmup=0)
    # a call of 0.01 s: timed with the setting's 2 s entry it would take over 2 s, a margin no busy machine closes
    assert all(0.01 <= timing.median < 2.0 for _, timing in timed.values())
