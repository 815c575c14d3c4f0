"""`sdtutorial bench`: the guide's speed and memory lessons measured side by side on one model and device.

Every variant runs on the same pipeline with the same prompt, seed and size. Each one is warmed up
with a short call (which is also when `torch.compile` compiles), then timed over `repeats` calls with
the device synchronized, and its median reported; then its peak memory is measured on another short
call, since a call's peak does not grow with its number of steps. Speedups are against the guide's
baseline (float32, PNDM, 50 steps) measured in the same run.

- `variants`: the settings compared (`Variant`, the guide's and newer techniques) and what a run measures (`Settings`);
- `pipelines`: the models a run loads once (`LoadedModels`), and putting a variant's settings on it and off again;
- `running`: a run (`run_bench`, `BenchRun`), the peer and the batch search;
- `choosing`: the best combination of speed options, and each option's quality cost on toyworld;
- `reporting`: the Markdown table and bench.json, .md, .csv and .png.
"""

from .choosing import QualityCosts, best_combination, prune
from .pipelines import LoadedModels, configure
from .reporting import markdown, write_bench_files
from .running import BenchRun, Report, run_bench
from .variants import (
    BASELINE,
    FAST,
    HALF,
    MEMORY_VARIANTS,
    SHORT_CALL_STEPS,
    SPEED_VARIANTS,
    VARIANTS,
    Settings,
    Variant,
    combination,
)

__all__ = [
    "BASELINE",
    "FAST",
    "HALF",
    "MEMORY_VARIANTS",
    "SHORT_CALL_STEPS",
    "SPEED_VARIANTS",
    "VARIANTS",
    "BenchRun",
    "LoadedModels",
    "QualityCosts",
    "Report",
    "Settings",
    "Variant",
    "best_combination",
    "combination",
    "configure",
    "markdown",
    "prune",
    "run_bench",
    "write_bench_files",
]
