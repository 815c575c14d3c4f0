"""What torch.compile of sd15-arch's UNet costs and gives on this machine, with PyTorch's on-disk compile cache.

Runs one guided UNet step eagerly and compiled, in a fresh process with an empty cache (a cold compile), then in a
second process that finds the first one's cache, and in a third with an empty cache that loads the portable cache
artifacts the first one saved (torch.compiler.save_cache_artifacts: one file, which could travel beside a run to
another machine of the same kind): the first call's seconds in each, and the step's seconds after.

    .venv/bin/python scripts/compile_cache.py [--dtype half] [--size 256] [--freezing] [--regional]
        [--mode default|max-autotune-no-cudagraphs]

--regional compiles the UNet's repeated transformer block once (diffusers' compile_repeated_blocks) instead of the
whole UNet.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def measure(dtype: str, size: int, mode: str, freezing: bool, regional: bool, artifacts: str, load: bool) -> dict:
    import torch

    if load:
        torch.compiler.load_cache_artifacts(open(artifacts, "rb").read())

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
        options = {"mode": None if mode == "default" else mode}
        if regional:
            pipeline.unet.compile_repeated_blocks(**options)
        else:
            pipeline.unet = torch.compile(pipeline.unet, **options)
        compiled_step = guided_step(pipeline, size, size)
        start = time.perf_counter()
        compiled_step()
        first_call = time.perf_counter() - start
        compiled = seconds(compiled_step)
    saved = None if load else torch.compiler.save_cache_artifacts()
    if saved:
        with open(artifacts, "wb") as file:
            file.write(saved[0])
    return {"eager_step": eager, "first_compiled_call": first_call, "compiled_step": compiled,
            "artifacts_bytes": len(saved[0]) if saved else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="half")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--mode", default="default")
    parser.add_argument("--freezing", action="store_true", help="Inductor's freezing: weights as constants")
    parser.add_argument("--regional", action="store_true", help="compile the repeated block, not the whole UNet")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--artifacts", help=argparse.SUPPRESS)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.dtype, args.size, args.mode, args.freezing, args.regional, args.artifacts,
                                 args.load)))
        return
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, __file__, "--child", "--dtype", args.dtype, "--size", str(args.size),
                   "--mode", args.mode, "--artifacts", os.path.join(folder, "artifacts.bin")]
        command += (["--freezing"] if args.freezing else []) + (["--regional"] if args.regional else [])

        def child(cache: str, *extra: str) -> dict:
            env = os.environ | {"TORCHINDUCTOR_CACHE_DIR": os.path.join(folder, cache)}
            done = subprocess.run(command + list(extra), env=env, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"a measuring process failed:\n{done.stderr[-3000:]}")
            return json.loads(done.stdout.strip().splitlines()[-1])

        cold, warm = child("cache"), child("cache")
        portable = child("empty", "--load") if cold["artifacts_bytes"] else None
    options = (", freezing" if args.freezing else "") + (", regional" if args.regional else "")
    print(f"sd15-arch UNet, one guided step at {args.size}x{args.size}, {args.dtype}, torch.compile mode "
          f"{args.mode}{options}:")
    print(f"  eager step {cold['eager_step']:.2f} s; compiled step {cold['compiled_step']:.2f} s "
          f"({cold['eager_step'] / cold['compiled_step']:.2f}x)")
    print(f"  first compiled call: {cold['first_compiled_call']:.1f} s with an empty cache, "
          f"{warm['first_compiled_call']:.1f} s in a new process with the cache "
          f"({cold['first_compiled_call'] / warm['first_compiled_call']:.1f}x faster)")
    if portable:
        print(f"  with the portable artifacts ({cold['artifacts_bytes'] / 1e6:.1f} MB) in a new process and an empty "
              f"cache: {portable['first_compiled_call']:.1f} s "
              f"({cold['first_compiled_call'] / portable['first_compiled_call']:.1f}x faster)")
    else:
        print("  torch.compiler.save_cache_artifacts() saved nothing to carry to another process")
    gain = cold["eager_step"] - cold["compiled_step"]
    if gain > 0:
        for label, run in (("cold", cold), ("cached", warm), ("portable", portable or {})):
            if not run:
                continue
            extra = run["first_compiled_call"] - run["compiled_step"]
            print(f"  the {label} compile repays itself after {extra / gain:.0f} steps "
                  f"({extra / gain / 20:.1f} images of 20 steps)")
    else:
        print("  compiling gives no gain here")


if __name__ == "__main__":
    main()
