"""How close a pipeline runs to what the hardware can do: the machine's practical peaks, the FLOPs a model does,
and where the time of one UNet step goes, operation by operation (the roofline lesson in 04 and the bench)."""

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from .timing import Timer, synchronize

aten = torch.ops.aten


def cpu_attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """SDPA's FLOPs for its CPU kernel, which torch's FLOP counter leaves out (it counts the GPU kernels only)."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


EXTRA_FLOP_FORMULAS = {aten._scaled_dot_product_flash_attention_for_cpu: cpu_attention_flops}
# What an aten operation counts as in the lesson's breakdown; every other one is "elementwise and other".
CATEGORIES = {
    "convolution": {aten.convolution},
    "linear layers": {aten.mm, aten.addmm, aten.baddbmm, aten.bmm},
    "attention": {aten._scaled_dot_product_flash_attention_for_cpu, aten._scaled_dot_product_flash_attention,
                  aten._scaled_dot_product_efficient_attention, aten._scaled_dot_product_cudnn_attention,
                  aten._softmax},
    "normalization": {aten.native_group_norm, aten.native_layer_norm},
}


def flop_counter() -> FlopCounterMode:
    """torch's FLOP counter, also counting attention on a CPU."""
    return FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS)


def flops_per_call(call: Callable, modules: dict[str, torch.nn.Module]) -> dict[str, list[int]]:
    """The FLOPs of each call of each of `modules` (name -> module) while `call()` runs, in call order."""
    counts: dict[str, list[int]] = {name: [] for name in modules}
    with torch.inference_mode(), flop_counter() as counter:
        def hooks(name):
            def before(*_):
                counts[name].append(-counter.get_total_flops())

            def after(*_):
                counts[name][-1] += counter.get_total_flops()

            return before, after

        handles = []
        for name, module in modules.items():
            before, after = hooks(name)
            handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
        try:
            call()
        finally:
            for handle in handles:
                handle.remove()
    return counts


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int | None = None, repeats: int = 3) -> float:
    """The machine's practical peak in TFLOP/s: the best of `repeats` square matrix products of `size` (default
    4096, 8192 on a GPU), after one warm-up product."""
    size = size or (8192 if device.type == "cuda" else 4096)
    a = torch.randn(size, size, device=device, dtype=dtype)
    timer = Timer(device, warmup=1)
    for _ in range(1 + repeats):
        with timer:
            a @ a
    return 2 * size**3 / min(timer.seconds) / 1e12


def memory_bandwidth(device: torch.device, megabytes: int = 256, repeats: int = 3) -> float:
    """Memory bandwidth in GB/s: the best of `repeats` copies of a `megabytes` float32 tensor (read and written)."""
    a = torch.empty(megabytes * 2**20 // 4, device=device)
    b = torch.empty_like(a)
    timer = Timer(device, warmup=1)
    for _ in range(1 + repeats):
        with timer:
            b.copy_(a)
    return 2 * a.numel() * a.element_size() / min(timer.seconds) / 1e9


@dataclass
class OperationCosts:
    """What each kind of operation (`CATEGORIES`) did in a block: FLOPs, bytes read and written, seconds."""

    flops: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    bytes: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def rows(self) -> list[dict]:
        """One dict per category, the slowest first: seconds, share of the time, GFLOP, arithmetic intensity
        (FLOPs per byte moved) and achieved TFLOP/s (None where it does no counted FLOPs)."""
        total = sum(self.seconds.values())
        rows = []
        for name in sorted(self.seconds, key=self.seconds.get, reverse=True):
            flops, moved, seconds = self.flops[name], self.bytes[name], self.seconds[name]
            rows.append({"operations": name, "seconds": seconds, "share": seconds / total, "gflop": flops / 1e9,
                         "flops_per_byte": flops / moved if flops else None,
                         "tflops": flops / seconds / 1e12 if flops else None})
        return rows


class measure_operations(TorchDispatchMode):
    """Times every aten operation run in its block, with its FLOPs and the bytes of its tensors, by kind:

        with measure_operations(device) as costs:
            unet(latents, t, encoder_hidden_states=embeddings)
        costs.rows()

    Each operation waits for the device before and after it, so on a GPU the block runs slower than it would.
    """

    def __init__(self, device: torch.device):
        super().__init__()
        self.device, self.costs = device, OperationCosts()
        self.formulas = flop_counter().flop_registry
        self.kinds = {op: name for name, ops in CATEGORIES.items() for op in ops}

    def __enter__(self) -> OperationCosts:
        super().__enter__()
        return self.costs

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.overloadpacket not in self.formulas:  # a composite (conv2d, linear): time the operations it runs
            with self:
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        synchronize(self.device)
        start = time.perf_counter()
        out = func(*args, **kwargs)
        synchronize(self.device)
        seconds = time.perf_counter() - start
        packet = func.overloadpacket
        kind = self.kinds.get(packet, "elementwise and other")
        formula = self.formulas.get(packet)
        self.costs.seconds[kind] += seconds
        self.costs.flops[kind] += formula(*args, **kwargs, out_val=out) if formula else 0
        tensors = [t for t in torch.utils._pytree.tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
        self.costs.bytes[kind] += sum(t.numel() * t.element_size() for t in tensors)
        return out

