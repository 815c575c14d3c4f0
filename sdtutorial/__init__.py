"""Helpers for the notebooks of the "Effective and efficient diffusion" tutorial."""

from .display import environment_report, grid, markdown_table, speedup_chart
from .fingerprint import fingerprint, psnr
from .inputs import get_inputs, make_generators
from .loading import (
    EMBEDDED_MODELS,
    ModelNotAvailableError,
    check_scheduler,
    load_pipeline,
    resolve_device,
    resolve_dtype,
    set_scheduler,
)
from .results import record
from .timing import Timing, time_call

__all__ = [
    "EMBEDDED_MODELS",
    "ModelNotAvailableError",
    "Timing",
    "check_scheduler",
    "environment_report",
    "fingerprint",
    "get_inputs",
    "grid",
    "load_pipeline",
    "make_generators",
    "markdown_table",
    "psnr",
    "record",
    "resolve_device",
    "resolve_dtype",
    "set_scheduler",
    "speedup_chart",
    "time_call",
]
