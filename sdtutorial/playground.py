"""An ipywidgets panel to try prompts, seeds, schedulers and dtypes; it calls the same helpers as the notebooks."""

import time
from dataclasses import dataclass

import ipywidgets as widgets
from IPython.display import display

from .display import grid, show
from .fingerprint import fingerprint
from .inputs import get_inputs
from .loading import DEFAULT_MODEL, DEFAULT_PROMPT, DTYPES, first_line, load_pipeline, set_scheduler


@dataclass
class Settings:
    """Everything one generation depends on."""

    model_id: str = DEFAULT_MODEL
    device: str = "auto"
    dtype: str = "auto"
    prompt: str = DEFAULT_PROMPT
    negative_prompt: str = ""
    seed: int = 0
    num_inference_steps: int = 20
    scheduler: str = "DPMSolverMultistepScheduler"
    guidance_scale: float = 7.5
    batch_size: int = 1


@dataclass
class Generation:
    """What one generation gave."""

    images: list
    seconds: float
    fingerprints: list[str]


def generate(settings: Settings, pipelines: dict, on_step=None) -> Generation:
    """Generate with `settings`, reusing a pipeline from `pipelines` (keyed by model, device, dtype) when loaded."""
    key = (settings.model_id, settings.device, settings.dtype)
    if key not in pipelines:
        pipelines[key] = load_pipeline(settings.model_id, device=settings.device, dtype=settings.dtype)
    pipeline = set_scheduler(pipelines[key], settings.scheduler)
    callback = None
    if on_step is not None:
        def callback(pipe, step, timestep, tensors):
            on_step(step + 1)
            return tensors
    start = time.perf_counter()
    images = pipeline(
        **get_inputs(
            settings.prompt,
            settings.batch_size,
            settings.seed,
            settings.num_inference_steps,
            negative_prompt=settings.negative_prompt or None,
            pipeline=pipeline,
            guidance_scale=settings.guidance_scale,
            callback_on_step_end=callback,
        )
    ).images
    return Generation(images, time.perf_counter() - start, fingerprint(images))


class Playground:
    """The panel: settings widgets, a Generate button, a progress bar, the images, the time and fingerprints.

    Nothing is generated until Generate is clicked (or `generate()` is called), so the panel is safe
    under papermill and nbval.
    """

    def __init__(self, settings: Settings):
        self.pipelines: dict = {}
        self.last: Generation | None = None
        pipeline = load_pipeline(settings.model_id, device=settings.device, dtype=settings.dtype)
        self.pipelines[(settings.model_id, settings.device, settings.dtype)] = pipeline
        schedulers = sorted(cls.__name__ for cls in pipeline.scheduler.compatibles)
        self.fixed = {"model_id": settings.model_id, "device": settings.device}
        self.controls = {
            # wide enough for a whole prompt of toyworld's grammar or the guide's
            "prompt": widgets.Text(value=settings.prompt, description="prompt", layout=widgets.Layout(width="44em")),
            "negative_prompt": widgets.Text(value=settings.negative_prompt, description="negative",
                                            layout=widgets.Layout(width="44em")),
            "seed": widgets.IntText(value=settings.seed, description="seed"),
            "num_inference_steps": widgets.IntSlider(
                value=settings.num_inference_steps, min=1, max=100, description="steps"
            ),
            "scheduler": widgets.Dropdown(options=schedulers, value=settings.scheduler, description="scheduler"),
            "guidance_scale": widgets.FloatSlider(
                value=settings.guidance_scale, min=0, max=20, step=0.5, description="guidance"
            ),
            "batch_size": widgets.IntSlider(value=settings.batch_size, min=1, max=8, description="batch size"),
            "dtype": widgets.Dropdown(options=list(DTYPES), value=settings.dtype, description="dtype"),
        }
        self.button = widgets.Button(description="Generate", button_style="primary")
        self.progress = widgets.IntProgress(value=0, min=0, max=settings.num_inference_steps, description="steps")
        self.error = widgets.HTML().add_class("sdtutorial-error")
        self.image = widgets.Image()
        self.status = widgets.Label().add_class("sdtutorial-status")
        self.fingerprints = widgets.Label().add_class("sdtutorial-fingerprints")
        self.button.on_click(lambda _: self.generate())
        results = [self.progress, self.error, self.image, self.status, self.fingerprints]
        self.panel = widgets.VBox([*self.controls.values(), self.button, *results])

    def settings(self) -> Settings:
        """The settings the widgets show now."""
        return Settings(**self.fixed, **{name: control.value for name, control in self.controls.items()})

    def generate(self) -> Generation | None:
        """Generate with the current settings and show the result; a bad value is shown in one line."""
        settings = self.settings()
        self.error.value, self.button.disabled = "", True
        self.progress.max, self.progress.value = settings.num_inference_steps, 0
        try:
            self.last = generate(settings, self.pipelines, on_step=lambda step: setattr(self.progress, "value", step))
        except (ValueError, TypeError, OSError) as error:
            self.error.value = f"<span style='color:#b00'>{type(error).__name__}: {first_line(error)}</span>"
            return None
        finally:
            self.button.disabled = False
        picture = grid(self.last.images)
        shown = show(picture)
        self.image.format, self.image.value = shown.format, shown.data
        self.image.layout.width = f"{picture.width}px"  # its own size, not stretched to the panel's width
        self.status.value = f"{len(self.last.images)} image(s) in {self.last.seconds:.2f} s"
        self.fingerprints.value = " ".join(self.last.fingerprints)
        return self.last

    def _ipython_display_(self):
        display(self.panel)
