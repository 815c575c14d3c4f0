"""nbval of every notebook under each CPU instruction set this machine can emulate x 1, 2 and 4 threads.

`make test-matrix` runs it. Each setting is one `pytest notebooks/` in a fresh process: ATEN_CPU_CAPABILITY
names the instruction set, and an IPython startup file sets the kernels' thread count (OMP_NUM_THREADS cannot
ask for more threads than the machine has cores). Prints one line per setting and a summary table; exits 1 if
any setting fails. Extra arguments go to pytest (e.g. a single notebook's path).
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CAPABILITIES = ("default", "avx2", "avx512")
THREADS = (1, 2, 4)


def settings() -> list[tuple[str, int]]:
    native = torch.backends.cpu.get_cpu_capability().lower()
    available = CAPABILITIES[: CAPABILITIES.index(native) + 1] if native in CAPABILITIES else (native,)
    return [(capability, threads) for capability in available for threads in THREADS]


def run_nbval(capability: str, threads: int, extra: list[str]) -> tuple[bool, float, str]:
    with tempfile.TemporaryDirectory(prefix="sdtutorial-ipython-") as ipython_dir:
        startup = Path(ipython_dir) / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-threads.py").write_text(f"import torch\ntorch.set_num_threads({threads})\n")
        env = os.environ | {"ATEN_CPU_CAPABILITY": capability, "IPYTHONDIR": ipython_dir}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--durations=0",
                               *(extra or ["notebooks"])], cwd=ROOT, env=env, capture_output=True, text=True)
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    return done.returncode == 0, time.perf_counter() - started, summary if done.returncode == 0 else done.stdout


def main(extra: list[str]) -> int:
    rows = []
    for capability, threads in settings():
        passed, seconds, text = run_nbval(capability, threads, extra)
        line = f"{capability:8} {threads} thread{'s' * (threads > 1)}: {'passed' if passed else 'FAILED'} " \
               f"in {seconds / 60:.1f} min"
        print(line if passed else f"{line}\n{text[-4000:]}", flush=True)
        rows.append((capability, threads, passed, seconds))
    print("\n| ATEN_CPU_CAPABILITY | threads | nbval | minutes |\n|---|---|---|---|")
    for capability, threads, passed, seconds in rows:
        print(f"| {capability} | {threads} | {'passed' if passed else 'FAILED'} | {seconds / 60:.1f} |")
    return 0 if all(passed for *_, passed, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
