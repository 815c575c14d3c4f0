"""The roofline's measurements: FLOPs counted as torch counts them (attention on a CPU too), per call and per kind
of operation, and the machine's peaks."""

import pytest
import torch

from sdtutorial.roofline import OperationCosts, flop_counter, flops_per_call, matmul_peak, measure_operations
from sdtutorial.timing import ModuleClock

CPU = torch.device("cpu")


def attention(q):
    return torch.nn.functional.scaled_dot_product_attention(q, q, q)


def count_flops(function) -> int:
    with torch.inference_mode(), flop_counter() as counter:
        function()
    return counter.get_total_flops()


def test_flops_are_counted_for_linear_layers_convolutions_and_attention_on_a_cpu():
    linear, x = torch.nn.Linear(16, 32), torch.randn(4, 16)
    assert count_flops(lambda: linear(x)) == 2 * 4 * 16 * 32
    conv, image = torch.nn.Conv2d(3, 8, 3, padding=1), torch.randn(1, 3, 10, 10)
    assert count_flops(lambda: conv(image)) == 2 * 10 * 10 * 8 * 3 * 3 * 3
    q = torch.randn(1, 2, 6, 8)  # batch, heads, tokens, head size: two products of 6x8 by 8x6 and 6x6 by 6x8
    assert count_flops(lambda: attention(q)) == 2 * (2 * 2 * 6 * 8 * 6)


def test_flops_per_call_splits_a_block_by_module_and_call():
    small, large, x = torch.nn.Linear(8, 8), torch.nn.Linear(8, 16), torch.randn(1, 8)
    counts = flops_per_call(lambda: (small(x), large(x), small(x)), {"small": small, "large": large})
    assert counts == {"small": [128, 128], "large": [256]}


def test_operations_are_timed_and_counted_by_kind():
    conv, linear, q = torch.nn.Conv2d(4, 4, 3), torch.nn.Linear(8, 8), torch.randn(1, 2, 6, 8)
    with torch.inference_mode(), measure_operations(CPU) as costs:
        linear(torch.relu(conv(torch.randn(1, 4, 10, 10))).reshape(-1, 8))
        attention(q)
    rows = {row["operations"]: row for row in costs.rows()}
    assert set(rows) == {"convolution", "linear layers", "attention", "elementwise and other"}
    assert rows["convolution"]["gflop"] * 1e9 == 2 * 8 * 8 * 4 * 4 * 3 * 3
    assert rows["elementwise and other"]["gflop"] == 0 and rows["elementwise and other"]["tflops"] is None
    assert rows["attention"]["flops_per_byte"] > 0 and rows["linear layers"]["tflops"] > 0
    assert sum(row["share"] for row in rows.values()) == pytest.approx(1)


def test_rows_put_the_slowest_kind_first():
    costs = OperationCosts()
    costs.seconds.update({"fast": 1.0, "slow": 3.0})
    costs.flops.update({"fast": 2e12, "slow": 0})
    costs.bytes.update({"fast": 1e12, "slow": 1.0})
    assert [row["operations"] for row in costs.rows()] == ["slow", "fast"]
    assert costs.rows()[1] == {"operations": "fast", "seconds": 1.0, "share": 0.25, "gflop": 2000.0,
                               "flops_per_byte": 2.0, "tflops": 2.0}


def test_peak_and_module_clock():
    assert 0 < matmul_peak(CPU, torch.float32, size=256, repeats=1) < 100
    linear = torch.nn.Linear(8, 8)
    with ModuleClock(linear, CPU) as clock:
        linear(torch.randn(1, 8))
        linear(torch.randn(1, 8))
    linear(torch.randn(1, 8))  # outside the block: not counted
    assert clock.calls == 2 and clock.seconds > 0
