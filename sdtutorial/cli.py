"""The `sdtutorial` command: run notebooks, show their parameters, list the embedded models, benchmark, evaluate,
check a machine before class, write handouts and the exercises' answers."""

import argparse
import signal
import sys
from datetime import datetime
from pathlib import Path

import yaml
from nbclient.exceptions import CellExecutionError

from .loading import EMBEDDED_MODELS, ModelNotAvailableError
from .messages import LANGUAGES
from .notebooks import (
    check_parameters,
    copy_notebooks,
    find_notebooks,
    notebook_parameters,
    notebooks_folder,
    parse_value,
    regenerate_reference,
    run_notebooks,
)
from .peers import PEERS
from .stopping import Terminated, end_child_processes, progress, raise_on_stop_signals
from .sweep import (
    CPUS_PER_POINT,
    check_points,
    make_points,
    parse_grid_option,
    read_sweep_file,
    read_yaml_mapping,
    run_sweep,
)
from .sweep_report import Axes, choose_axes, choose_y, table_rows, write_sweep_files
from .tables import markdown_table


def output_folder(given: str | None, prefix: str = "") -> Path:
    """The folder a command writes into: the one given with -o, else runs/<prefix><date>-<time>."""
    return Path(given) if given else Path("runs") / datetime.now().strftime(f"{prefix}%Y%m%d-%H%M%S")


def summary_table(summary: list[dict]) -> str:
    """A Markdown table of a run: notebook, status, seconds and the error if any."""
    return markdown_table(["notebook", "status", "seconds", "error"],
                          [[e["notebook"], e["status"], e["seconds"], e.get("error", "")] for e in summary], decimals=1)


def command_run(args: argparse.Namespace) -> int:
    """Run notebooks with papermill into an output folder and print a summary."""
    notebooks = find_notebooks(args.notebooks, notebooks_folder(args.lang))
    params = {}
    for path in args.file or []:
        params.update(read_yaml_mapping(path))
    params.update({name: parse_value(value) for name, value in args.parameter or []})
    check_parameters(notebooks, params)
    out_dir = output_folder(args.output)
    summary = run_notebooks(notebooks, params, out_dir, html=args.html, language=args.lang)
    print(summary_table(summary))
    print(f"outputs and summary.json in {out_dir}")
    failed = [e for e in summary if e["status"] != "ok"]
    for entry in failed:
        message = f"error: notebook {entry['notebook']} failed at {entry['error']} (see {entry['output']})"
        print(message, file=sys.stderr)
    return 1 if failed else 0


def command_sweep(args: argparse.Namespace) -> int:
    """Run one notebook over a grid of parameters on Ray; write each point, the tables and a chart."""
    notebooks = find_notebooks([args.notebook])
    if len(notebooks) != 1:
        raise ValueError(f"sweep takes one notebook, {args.notebook!r} names {len(notebooks)}")
    notebook = notebooks[0]
    grid, listed, fixed = read_sweep_file(args.file) if args.file else ({}, [], {})
    grid |= dict(parse_grid_option(text) for text in args.grid or [])
    fixed |= {name: parse_value(value) for name, value in args.parameter or []}
    points = make_points(grid, listed, fixed)
    check_points(notebook, points)
    x, hue = choose_axes(points, args.x, args.hue)
    for option, value in (("--workers", args.workers), ("--cpus-per-point", args.cpus_per_point)):
        if value is not None and value < 1:
            raise ValueError(f"{option} must be at least 1, got {value}")
    out_dir = Path(args.output)
    print(f"sweep of {notebook.stem}: {len(points)} points into {out_dir}", flush=True)
    summary = run_sweep(notebook, points, out_dir, args.ray, args.workers, args.cpus_per_point)
    print(summary.line())
    if summary.interrupted:
        print(f"interrupted: finished points are kept in {out_dir}; run the same command again for the rest",
              file=sys.stderr)
        return 130
    _, rows = table_rows(summary.records)
    files = write_sweep_files(out_dir, notebook, summary.records, Axes(x, tuple(choose_y(rows, args.y)), hue))
    print((out_dir / "sweep.md").read_text(), end="")
    print("wrote " + ", ".join(str(path) for path in files))
    for record in summary.records:
        if record["status"] != "ok":
            print(f"error: point {record['name']} failed at {record.get('error')}", file=sys.stderr)
    return 1 if summary.failed else 0


def command_params(args: argparse.Namespace) -> int:
    """Print a notebook's parameters with their defaults and comments."""
    for path in find_notebooks([args.notebook]):
        for name, info in notebook_parameters(path).items():
            print(f"{name} = {info['default']}  # {info['help']}")
    return 0


def command_notebooks(args: argparse.Namespace) -> int:
    """Copy the tutorial's notebooks into a folder, to open them in Jupyter."""
    folder = notebooks_folder(args.lang)
    copied = copy_notebooks(Path(args.folder), folder)
    print(f"copied {len(copied)} notebooks from {folder} into {args.folder} (files already there are kept)")
    return 0


def command_models(args: argparse.Namespace) -> int:
    """Print the embedded models and what each is for."""
    for name, description in EMBEDDED_MODELS.items():
        print(f"{name}: {description}")
    print("Any hub id (e.g. stable-diffusion-v1-5/stable-diffusion-v1-5) or local folder works too, given the network.")
    return 0


def command_references(args: argparse.Namespace) -> int:
    """Recompute the exercises' stored answers, then re-execute notebooks in place so their outputs become the
    committed references (the notebooks' exercise checks read those answers); then write the translated notebooks
    again, whose outputs are the English ones."""
    from .exercises import ANSWERS_FILE, write_answers

    write_answers()
    print(f"wrote {ANSWERS_FILE}", flush=True)
    notebooks = find_notebooks(args.notebooks)
    for i, path in enumerate(notebooks):
        done = ", ".join(nb.stem for nb in notebooks[:i]) or "none"
        progress.update(f"references regenerated: {done}; {path.stem} is left as it was; for the rest: "
                        f"sdtutorial references {' '.join(nb.stem for nb in notebooks[i:])}")
        print(f"regenerating {path}", flush=True)
        try:
            regenerate_reference(path)
        except CellExecutionError as error:
            print(f"error: {path.stem} failed, left unchanged: {error.ename}: {error.evalue}", file=sys.stderr)
            return 1
    return command_translations(argparse.Namespace(lang=None, diff=None))


def command_bench(args: argparse.Namespace) -> int:
    """Measure the guide's speed and memory variants on one model and device; print and save the table."""
    import diffusers
    import transformers

    from .bench import Settings, markdown, run_bench, write_bench_files

    diffusers.utils.logging.disable_progress_bar()  # the benchmark loads models several times; one bar is enough
    transformers.utils.logging.disable_progress_bar()

    compile_unet = {"auto": "auto", "on": True, "off": False}[args.compile]
    settings = Settings(
        model_id=args.model, device=args.device, height=args.height, width=args.width, batch_size=args.batch_size,
        repeats=args.repeats, prompt=args.prompt, seed=args.seed, compile_unet=compile_unet, tiny_vae_id=args.tiny_vae,
        memory_budget=args.memory_budget, max_batch_size=args.max_batch_size, quick=args.quick, variants=args.variant,
        quality_prompts=args.quality_prompts, emulated_half=args.emulated_half, peer=args.peer,
    )
    out_dir = output_folder(args.output, "bench-")
    report = run_bench(settings)
    paths = write_bench_files(report, out_dir)
    print(markdown(report))
    print("wrote " + ", ".join(str(path) for path in paths.values()))
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    """Measure the trained toyworld models against the guide's claims; print and save the report."""
    import diffusers

    from .evaluate import run_evaluation

    diffusers.utils.logging.disable_progress_bar()  # one bar per measurement, not one per pipeline call
    out_dir = output_folder(args.output, "evaluate-")
    run_evaluation(out_dir, args.prompts, args.batch_size, args.device)
    print(f"wrote evaluation.md, evaluation.json and samples.png in {out_dir}")
    return 0


def command_check(args: argparse.Namespace) -> int:
    """Check that this machine runs the notebooks as tested: print what it has and "ready", or why not."""
    from .classroom import NotReady, machine_check

    try:
        for line in machine_check(args.model):
            print(line, flush=True)
    except NotReady as error:
        print(f"not ready: {error}", flush=True)
        return 1
    return 0


def command_handout(args: argparse.Namespace) -> int:
    """Write the student versions of the notebooks (and with --solutions the teacher's) as .ipynb and HTML."""
    from .classroom import write_handouts

    progress.update(f"handouts partly written in {args.output}; run the same command again to write them all")
    index = write_handouts(Path(args.output), args.solutions, args.lang)
    print(f"wrote handouts into {args.output}; open {index}")
    return 0


def command_translations(args: argparse.Namespace) -> int:
    """Write the translated notebooks from the English ones and the translations, and bring the message catalogs up to
    date; or show how the English changed under stale translations. Exit status 1 while anything needs a translator."""
    from .translations import english_diff, update_catalog, write_translations

    languages = [args.lang] if args.lang else [language for language in LANGUAGES if language != "en"]
    if args.diff:
        for language in languages:
            for path in find_notebooks(args.diff):
                print(english_diff(path.stem, language) or f"{path.stem}: no stale sections in {language}")
        return 0
    needs_work = False
    for language in languages:
        written, problems = write_translations(language)
        untranslated = update_catalog(language)
        print(f"{language}: wrote {len(written)} notebooks into {notebooks_folder(language)}")
        for line in problems + [f"sdtutorial/locale/{language}.po: no translation yet of {m!r}" for m in untranslated]:
            print(f"  {line}")
        needs_work = needs_work or bool(problems or untranslated)
    return 1 if needs_work else 0


def command_exercises(args: argparse.Namespace) -> int:
    """List the exercises, what each practises and its points."""
    from .exercises import EXERCISES

    for exercise in EXERCISES.values():
        points = f"{exercise.points} point{'s' * (exercise.points > 1)}"
        print(f"{exercise.id} ({exercise.notebook}, {points}): {exercise.practises}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    top = argparse.ArgumentParser(prog="sdtutorial", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run notebooks with papermill")
    run.add_argument("notebooks", nargs="*", help="names such as 01_speed or speed (default: all)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), help="set a parameter")
    run.add_argument("-f", "--file", action="append", help="YAML file of parameters")
    run.add_argument("-o", "--output", help="output folder (default: runs/<timestamp>)")
    run.add_argument("--html", action="store_true", help="also export each executed notebook to HTML, images included")
    add_language_option(run)
    run.set_defaults(func=command_run)
    sweep = sub.add_parser("sweep", help="run one notebook over a grid of parameters, on Ray; tables and a chart")
    sweep.add_argument("notebook", help="a name such as 01_speed or speed")
    sweep.add_argument("--grid", action="append", metavar="NAME=V1,V2,...", help="values of one parameter "
                       "(repeatable: every combination runs)")
    sweep.add_argument("-f", "--file", help="YAML file with grid (name: [values]), points (a list of name: value "
                       "mappings) and parameters (fixed values)")
    sweep.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                       help="a fixed parameter for every point")
    sweep.add_argument("-o", "--output", required=True, help="output folder; a second run into it resumes")
    sweep.add_argument("--x", help="chart x axis: a varied parameter (default: the first numeric one)")
    sweep.add_argument("--y", action="append", help="chart panel: a numeric result such as quality_check.fast."
                       "adherence (repeatable; default: the first results that vary)")
    sweep.add_argument("--hue", help="chart lines: a varied parameter (default: the first other one)")
    sweep.add_argument("--ray", metavar="ADDRESS", help="an existing Ray cluster, e.g. 10.0.0.5:6379 (default: "
                       "start a local Ray)")
    sweep.add_argument("--workers", type=int, help="points at once on the local Ray (default: what the cores "
                       "and memory afford)")
    sweep.add_argument("--cpus-per-point", type=int, default=CPUS_PER_POINT, help="CPU cores (and threads) each "
                       f"point gets (default: {CPUS_PER_POINT})")
    sweep.set_defaults(func=command_sweep)
    params = sub.add_parser("params", help="show a notebook's parameters")
    params.add_argument("notebook")
    params.set_defaults(func=command_params)
    sub.add_parser("models", help="list the embedded models").set_defaults(func=command_models)
    notebooks = sub.add_parser("notebooks", help="copy the tutorial's notebooks into a folder")
    notebooks.add_argument("folder")
    add_language_option(notebooks)
    notebooks.set_defaults(func=command_notebooks)
    refs = sub.add_parser("references", help="re-execute notebooks in place to refresh the reference outputs")
    refs.add_argument("notebooks", nargs="*")
    refs.set_defaults(func=command_references)
    bench = sub.add_parser("bench", help="measure the guide's speed and memory variants side by side")
    bench.add_argument("--model", default="sd15-arch", help="model id (default: sd15-arch, SD v1.5's architecture)")
    bench.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    bench.add_argument("--height", type=int, help="image height in pixels (default: the model's; try 256 on a CPU)")
    bench.add_argument("--width", type=int, help="image width in pixels (default: the model's)")
    bench.add_argument("--batch-size", type=int, default=1, help="images per call (default: 1)")
    bench.add_argument("--repeats", type=int, help="timed calls per variant (default: 3 on a GPU, 1 on a CPU)")
    bench.add_argument("--prompt", default="portrait photo of a old warrior chief")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                       help="torch.compile variant: auto runs it on a GPU only")
    bench.add_argument("--tiny-vae", help="tiny decoder id (default: the one that fits the model)")
    bench.add_argument("--memory-budget", help="search the largest batch within this much memory, weights included, "
                       "e.g. 16GiB to emulate a T4")
    bench.add_argument("--max-batch-size", type=int, default=32, help="largest batch the search tries (default: 32)")
    bench.add_argument("--quick", action="store_true", help="smoke run: a tenth of the steps, one repeat")
    bench.add_argument("--quality-prompts", type=int, default=200,
                       help="score each variant on this many toyworld prompts, in float32 (default: 200; 0: skip)")
    bench.add_argument("--emulated-half", action="store_true", help="run the half-precision rows in bfloat16 even "
                       "on a CPU that emulates it (hours at 256x256; by default they run in float32 there)")
    bench.add_argument("--peer", choices=PEERS, help="also time the fast setting with another runtime (openvino: "
                       "its UNet and VAE decoder converted; pip install 'sdtutorial[openvino]')")
    bench.add_argument("--variant", action="append", help="only this variant (repeatable; the baseline runs always)")
    bench.add_argument("-o", "--output", help="output folder (default: runs/bench-<timestamp>)")
    bench.set_defaults(func=command_bench)
    evaluate = sub.add_parser("evaluate", help="measure the trained toyworld models against the guide's claims")
    evaluate.add_argument("--prompts", type=int, default=200, help="prompts per measurement (default: 200)")
    evaluate.add_argument("--batch-size", type=int, default=8, help="images per pipeline call (default: 8)")
    evaluate.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (default: cpu)")
    evaluate.add_argument("-o", "--output", help="output folder (default: runs/evaluate-<timestamp>)")
    evaluate.set_defaults(func=command_evaluate)
    check = sub.add_parser("check", help="before class: does this machine run the notebooks as tested? (about 15 s)")
    check.add_argument("--model", default="toyworld", help="the model whose seeded images to compare (default: "
                       "toyworld, the one the shipped references come from)")
    check.set_defaults(func=command_check)
    handout = sub.add_parser("handout", help="write the notebooks without solutions, as .ipynb and HTML, with an index")
    handout.add_argument("-o", "--output", required=True, help="folder to write into")
    handout.add_argument("--solutions", action="store_true", help="also the teacher's versions, in solutions/")
    add_language_option(handout)
    handout.set_defaults(func=command_handout)
    sub.add_parser("exercises", help="list the exercises and their points").set_defaults(func=command_exercises)
    translations = sub.add_parser("translations", help="write the translated notebooks (notebooks/<language>/) "
                                  "from the English ones and translations/<language>/; list what needs a translator")
    translations.add_argument("--lang", choices=[language for language in LANGUAGES if language != "en"],
                              help="only this language (default: all)")
    translations.add_argument("--diff", nargs="+", metavar="NOTEBOOK", help="show how the English of these notebooks "
                              "changed under their stale translations, instead of writing anything")
    translations.set_defaults(func=command_translations)
    return top


def add_language_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--lang", choices=list(LANGUAGES), default="en",
                         help="edition of the notebooks: " + ", ".join(f"{k} ({v})" for k, v in LANGUAGES.items()))


def main(argv: list[str] | None = None) -> int:
    """Entry point; bad input ends with one line on stderr and exit status 2. Ctrl-C (SIGINT) or SIGTERM ends every
    process the command started (notebook kernels) and prints one line of what was kept: exit status 130 or 143."""
    args = parser().parse_args(argv)
    previous_handlers = raise_on_stop_signals()
    progress.update()
    try:
        return args.func(args)
    except (ValueError, ModelNotAvailableError, FileNotFoundError, ModuleNotFoundError, yaml.YAMLError) as error:
        print(f"sdtutorial: error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as stop:
        end_child_processes()
        print(f"\nsdtutorial {args.command}: stopped; {progress.text}", file=sys.stderr, flush=True)
        return 143 if isinstance(stop, Terminated) else 130  # 128 + the signal's number, as shells report it
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
