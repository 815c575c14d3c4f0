"""Helpers for the notebooks of the "Effective and efficient diffusion" tutorial."""

import logging

from .display import (
    comparison_grid,
    environment_report,
    grid,
    markdown_table,
    metric_charts,
    roofline_chart,
    show,
    speedup_chart,
)
from .fingerprint import block_means, fingerprint, psnr, same_images
from .inputs import get_inputs, get_prompt_inputs, make_generators
from .loading import (
    EMBEDDED_MODELS,
    ModelNotAvailableError,
    check_scheduler,
    load_pipeline,
    load_vae,
    resolve_device,
    resolve_dtype,
    set_scheduler,
)
from .memory import (
    PeakMemory,
    attention_kind,
    format_size,
    largest_batch,
    measure,
    measure_side_by_side,
    parse_size,
    peak_memory,
    use_attention,
)
from .messages import use_language
from .quality import compare, sharpness
from .references import ReferenceImages
from .results import record
from .timing import Timer, time_call, time_side_by_side

# In every new process transformers says that CLIP's image processor falls back to PIL without torchvision.
# These pipelines never run it (it feeds Stable Diffusion's safety checker, which they leave out), and the
# notice landed in every notebook's output and as a red block above the playground.
logging.getLogger("transformers.utils.import_utils").addFilter(
    lambda record: "requires torchvision" not in record.getMessage()
)

__all__ = [
    "EMBEDDED_MODELS",
    "ModelNotAvailableError",
    "ReferenceImages",
    "Timer",
    "block_means",
    "check_scheduler",
    "compare",
    "comparison_grid",
    "environment_report",
    "fingerprint",
    "format_size",
    "get_inputs",
    "get_prompt_inputs",
    "grid",
    "largest_batch",
    "load_pipeline",
    "load_vae",
    "make_generators",
    "markdown_table",
    "measure",
    "measure_side_by_side",
    "metric_charts",
    "parse_size",
    "peak_memory",
    "PeakMemory",
    "attention_kind",
    "psnr",
    "record",
    "resolve_device",
    "roofline_chart",
    "resolve_dtype",
    "same_images",
    "set_scheduler",
    "sharpness",
    "show",
    "speedup_chart",
    "time_call",
    "time_side_by_side",
    "use_language",
    "use_attention",
]
