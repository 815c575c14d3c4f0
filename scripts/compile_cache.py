"""What torch.compile of sd15-arch's UNet costs and gives on this machine, with PyTorch's on-disk compile cache.

Runs one guided UNet step eagerly and compiled, in a fresh process with an empty cache (a cold compile), then in a
second process that finds the first one's cache: the first call's seconds in each, and the step's seconds after.

    .venv/bin/python scripts/compile_cache.py [--dtype half] [--size 256] [--freezing]
        [--mode default|max-autotune-no-cudagraphs]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def measure(dtype: str, size: int, mode: str, freezing: bool) -> dict:
    import torch

    # Freezing treats the weights as constants, so Inductor can fold them and prepack them for oneDNN's kernels.
    torch._inductor.config.freezing = freezing

    from sdtutorial.loading import load_pipeline
    from sdtutorial.step_costs import guided_step

    pipeline = load_pipeline("sd15-arch", device="cpu", dtype=dtype)
    pipeline.set_progress_bar_config(disable=True)

    def seconds(step, calls=3):
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    with torch.inference_mode():
        eager = seconds(guided_step(pipeline, size, size), calls=4)
        pipeline.unet = torch.compile(pipeline.unet, mode=None if mode == "default" else mode)
        compiled_step = guided_step(pipeline, size, size)
        start = time.perf_counter()
        compiled_step()
        first_call = time.perf_counter() - start
        compiled = seconds(compiled_step)
    return {"eager_step": eager, "first_compiled_call": first_call, "compiled_step": compiled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="half")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--mode", default="default")
    parser.add_argument("--freezing", action="store_true", help="Inductor's freezing: weights as constants")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.dtype, args.size, args.mode, args.freezing)))
        return
    with tempfile.TemporaryDirectory() as cache:
        env = os.environ | {"TORCHINDUCTOR_CACHE_DIR": cache}
        command = [sys.executable, __file__, "--child", "--dtype", args.dtype, "--size", str(args.size),
                   "--mode", args.mode] + (["--freezing"] if args.freezing else [])
        runs = [json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True)
                           .stdout.strip().splitlines()[-1]) for _ in ("cold", "warm")]
    cold, warm = runs
    freezing = ", freezing" if args.freezing else ""
    print(f"sd15-arch UNet, one guided step at {args.size}x{args.size}, {args.dtype}, torch.compile mode "
          f"{args.mode}{freezing}:")
    print(f"  eager step {cold['eager_step']:.2f} s; compiled step {cold['compiled_step']:.2f} s "
          f"({cold['eager_step'] / cold['compiled_step']:.2f}x)")
    print(f"  first compiled call: {cold['first_compiled_call']:.1f} s with an empty cache, "
          f"{warm['first_compiled_call']:.1f} s in a new process with the cache "
          f"({cold['first_compiled_call'] / warm['first_compiled_call']:.1f}x faster)")
    gain = cold["eager_step"] - cold["compiled_step"]
    if gain > 0:
        for label, run in (("cold", cold), ("cached", warm)):
            extra = run["first_compiled_call"] - run["compiled_step"]
            print(f"  the {label} compile repays itself after {extra / gain:.0f} steps "
                  f"({extra / gain / 20:.1f} images of 20 steps)")
    else:
        print("  compiling gives no gain here")


if __name__ == "__main__":
    main()
