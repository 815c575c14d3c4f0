import time

import pytest
import torch

from sdtutorial.timing import Timing, time_call


def test_warmup_runs_are_not_timed():
    calls = []
    result, timing = time_call(lambda: calls.append(1) or len(calls), torch.device("cpu"), repeats=3, warmup=2)
    assert len(calls) == 5
    assert result == 5
    assert len(timing.seconds) == 3


def test_each_repeat_times_one_call():
    _, timing = time_call(lambda: time.sleep(0.05), torch.device("cpu"), repeats=2, warmup=0)
    assert all(0.05 <= s < 0.5 for s in timing.seconds)


def test_median():
    assert Timing([3.0, 1.0, 2.0]).median == 2.0


def test_bad_repeats_are_refused():
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        time_call(lambda: None, torch.device("cpu"), repeats=0)
