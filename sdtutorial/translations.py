"""The tutorial in other languages, made from the English notebooks so that it cannot drift from them.

The English notebooks stay the single source of every code cell, parameter, tag and output. A translation is one
Markdown file per notebook, `translations/<language>/<notebook>.md`: a section for each Markdown cell, headed by the
cell's id and a hash of the English text it translates, so a translator edits prose and nothing else. `sdtutorial
translations` (or `make translations`) writes `notebooks/<language>/<notebook>.ipynb` from the two: the English
notebook with each Markdown cell's text replaced by its translation, its `language` parameter set to the language,
and the lines `check()` printed in the English run given as it prints them in that language. Everything else,
outputs included, is the English notebook's, so nbval of the English notebooks covers the translated ones.
"""

import copy
import difflib
import hashlib
import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .files import write_atomically, write_notebook
from .messages import RIGHT_TO_LEFT, catalog, catalog_path, right_message
from .notebooks import NOTEBOOKS_DIR, available_notebooks

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = ROOT / "translations"  # in a checkout; translated notebooks ship, their sources need not
SECTION = re.compile(r"^<!-- cell (?P<id>\S+) english (?P<hash>[0-9a-f]{12}) -->\n", re.MULTILINE)
PARAMETER_LINE = re.compile(r'^language = "en"(?=  #)', re.MULTILINE)
RIGHT_LINE = re.compile(r"^(?P<exercise>\S+): right \((?P<points>\d+) points?\)$")  # messages.RIGHT in English
CODE_SPAN = re.compile(r"(`+)(?!`)(?:[^\n]|\n(?!\s*\n))+?(?<!`)\1(?!`)")  # may wrap, not across paragraphs
UNITS = "%|s|ms|dB|MB|GB|KB|MiB|GiB|px|GFLOP|TFLOP/s"
# 30 s, 1.5x, 64x64 (not a digit inside an English word, such as v1.5)
NUMBER_WITH_UNIT = re.compile(rf"(?<![A-Za-z0-9_.])\d[\d.,]*(?:x\d+|(?: ?(?:{UNITS})|x)(?![A-Za-z0-9_]))")


def english_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Section:
    """The translation of one Markdown cell and the hash of the English it was made from."""

    cell_id: str
    english: str
    text: str


def translation_file(notebook: str, language: str) -> Path:
    return TRANSLATIONS_DIR / language / f"{notebook}.md"


def translated_notebook_path(notebook: str, language: str) -> Path:
    return NOTEBOOKS_DIR / language / f"{notebook}.ipynb"


def read_sections(path: Path) -> dict[str, Section]:
    """The sections of a translation file, by cell id."""
    text = path.read_text(encoding="utf-8")
    heads = list(SECTION.finditer(text))
    return {head["id"]: Section(head["id"], head["hash"], text[head.end():end].strip("\n"))
            for head, end in zip(heads, [h.start() for h in heads[1:]] + [len(text)], strict=True)}


def problems(english: nbformat.NotebookNode, sections: dict[str, Section], notebook: str, language: str) -> list[str]:
    """What keeps a translation from being complete and current: missing, stale and unknown sections, one line each."""
    cells = {cell.id: cell for cell in english.cells if cell.cell_type == "markdown"}
    where = f"translations/{language}/{notebook}.md"
    found = [f"{where}: cell {cell_id} has no translation (add a section under <!-- cell {cell_id} english "
             f"{english_hash(cell.source)} -->)" for cell_id, cell in cells.items() if cell_id not in sections]
    stale = [cell_id for cell_id, cell in cells.items()
             if cell_id in sections and sections[cell_id].english != english_hash(cell.source)]
    found += [f"{where}: cell {cell_id} translates an older English text (see what changed: sdtutorial translations "
              f"--diff {notebook})" for cell_id in stale]
    found += [f"{where}: cell {cell_id} is not a Markdown cell of the English notebook" for cell_id in sections
              if cell_id not in cells]
    return found


def isolate_inline_english(text: str) -> str:
    """Wrap code spans and numbers with units in <bdi>, so that inside a right-to-left sentence they keep their place
    and their punctuation its side."""
    pieces = []
    position = 0
    for span in CODE_SPAN.finditer(text):
        pieces += [NUMBER_WITH_UNIT.sub(r"<bdi>\g<0></bdi>", text[position:span.start()]), f"<bdi>{span[0]}</bdi>"]
        position = span.end()
    return "".join(pieces) + NUMBER_WITH_UNIT.sub(r"<bdi>\g<0></bdi>", text[position:])


def markdown_source(text: str, language: str) -> str:
    """A translated Markdown cell as the notebook stores it: in a right-to-left language, inside a <div dir="rtl">
    with blank lines around the Markdown (or it is not rendered as Markdown), inline English isolated."""
    if language not in RIGHT_TO_LEFT:
        return text
    return f'<div dir="rtl">\n\n{isolate_inline_english(text)}\n\n</div>'


def translated_outputs(outputs: list, language: str) -> list:
    """A code cell's outputs with the lines `check()` printed for right answers in `language`."""
    outputs = copy.deepcopy(outputs)
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            output["text"] = "".join(
                right_message(m["exercise"], int(m["points"]), language) + line[len(line.rstrip("\n")):]
                if (m := RIGHT_LINE.match(line.rstrip("\n"))) else line
                for line in output["text"].splitlines(keepends=True))
    return outputs


def translated_notebook(english: nbformat.NotebookNode, sections: dict[str, Section],
                        language: str) -> nbformat.NotebookNode:
    """The English notebook with its Markdown in `language` and its `language` parameter set to it."""
    notebook = copy.deepcopy(english)
    notebook.metadata["sdtutorial"] = {"language": language}
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_source(sections[cell.id].text, language)
        elif "parameters" in cell.metadata.get("tags", []):
            cell.source = PARAMETER_LINE.sub(f'language = "{language}"', cell.source)
        elif cell.cell_type == "code":
            cell.outputs = translated_outputs(cell.outputs, language)
    return notebook


def write_translations(language: str, folder: Path | None = None) -> tuple[list[Path], list[str]]:
    """Write every notebook whose translation is complete and current into `notebooks/<language>/`; return what was
    written and the problems of the rest (one line each)."""
    written, found = [], []
    for path in available_notebooks(folder):
        english = nbformat.read(path, as_version=4)
        source = translation_file(path.stem, language)
        if not source.exists():
            found.append(f"{source.relative_to(ROOT)}: missing")
            continue
        sections = read_sections(source)
        notebook_problems = problems(english, sections, path.stem, language)
        found += notebook_problems
        if not notebook_problems:
            written.append(write_notebook(translated_notebook_path(path.stem, language),
                                          translated_notebook(english, sections, language)))
    return written, found


def english_diff(notebook: str, language: str) -> str:
    """For each stale section of a translation, how the English cell changed since the text it translates (found in
    git's history of the English notebook by its hash): a unified diff."""
    english = nbformat.read(NOTEBOOKS_DIR / f"{notebook}.ipynb", as_version=4)
    cells = {cell.id: cell.source for cell in english.cells if cell.cell_type == "markdown"}
    stale = {s.cell_id: s.english for s in read_sections(translation_file(notebook, language)).values()
             if s.cell_id in cells and s.english != english_hash(cells[s.cell_id])}
    diffs = []
    for cell_id, old_hash in stale.items():
        old = english_text_with_hash(f"notebooks/{notebook}.ipynb", cell_id, old_hash)
        if old is None:
            diffs.append(f"cell {cell_id}: no English text with hash {old_hash} in git's history; its text now:\n"
                         f"{cells[cell_id]}\n")
            continue
        diffs.append("".join(difflib.unified_diff(old.splitlines(True), cells[cell_id].splitlines(True),
                                                  f"{cell_id} (translated, {old_hash})",
                                                  f"{cell_id} (now, {english_hash(cells[cell_id])})")))
    return "\n".join(diffs)


def english_text_with_hash(path: str, cell_id: str, wanted: str) -> str | None:
    """The text a cell had in some committed version of `path` whose hash is `wanted`, newest first."""
    commits = subprocess.run(["git", "log", "--format=%H", "--", path], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    for commit in commits:
        shown = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode:
            continue
        for cell in nbformat.reads(shown.stdout, as_version=4).cells:
            if cell.get("id") == cell_id and english_hash(cell.source) == wanted:
                return cell.source
    return None


def update_catalog(language: str) -> list[str]:
    """Bring `locale/<language>.po` up to the messages `check()` prints now: new ones added untranslated, changed ones
    marked fuzzy, gone ones dropped; return the messages that still need a translator."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    from .exercises import catalog_messages

    template = Catalog(locale=language)
    for message in catalog_messages():
        template.add(message)
    current = catalog(language)
    current.update(template, update_creation_date=False)
    current.obsolete.clear()
    text = io.BytesIO()
    write_po(text, current, width=120, no_location=True, omit_header=False)
    write_atomically(catalog_path(language), text.getvalue())
    catalog.cache_clear()
    return [m.id for m in current if m.id and (not m.string or m.fuzzy)]
