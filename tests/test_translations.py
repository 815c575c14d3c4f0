"""The translated editions: made from the English notebooks by `make translations`, complete, current, and with the
English code and outputs; the check() messages translated; a changed English cell caught and named."""

import re
import string

import nbformat
import pytest

from sdtutorial import messages, translations
from sdtutorial.cli import main
from sdtutorial.exercises import EXERCISES, NotYetRight, catalog_messages, check
from sdtutorial.notebooks import available_notebooks, notebooks_folder

from conftest import NOTEBOOKS

LANGUAGES = [language for language in messages.LANGUAGES if language != "en"]
PAIRS = [(language, path.stem) for language in LANGUAGES for path in available_notebooks()]
REMAKE = "make translations"


def english_and_translated(language: str, name: str):
    return (nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4),
            nbformat.read(NOTEBOOKS / language / f"{name}.ipynb", as_version=4))


@pytest.mark.parametrize(("language", "name"), PAIRS)
def test_every_english_markdown_cell_has_a_current_translation(language, name):
    english = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    sections = translations.read_sections(translations.translation_file(name, language))
    assert translations.problems(english, sections, name, language) == []


@pytest.mark.parametrize(("language", "name"), PAIRS)
def test_the_committed_translation_is_what_the_command_writes(language, name):
    english, committed = english_and_translated(language, name)
    sections = translations.read_sections(translations.translation_file(name, language))
    expected = translations.translated_notebook(english, sections, language)
    assert nbformat.writes(committed) == nbformat.writes(expected), f"notebooks/{language}/{name} is out of date: " \
        f"run {REMAKE}"


@pytest.mark.parametrize(("language", "name"), PAIRS)
def test_code_tags_and_outputs_are_the_english_ones(language, name):
    """Checked cell by cell, not through the command that writes them: the one parameter line that names the
    language, and the lines check() printed, are the only differences, so nbval of the English covers these."""
    english, translated = english_and_translated(language, name)
    assert [(c.id, c.cell_type, c.metadata) for c in translated.cells] == \
        [(c.id, c.cell_type, c.metadata) for c in english.cells]
    for mine, theirs in zip(translated.cells, english.cells, strict=True):
        if mine.cell_type == "markdown":
            assert mine.source != theirs.source, f"cell {mine.id} is not translated"
            continue
        if "parameters" in mine.metadata.get("tags", []):
            assert mine.source.replace(f'language = "{language}"', 'language = "en"') == theirs.source
            continue
        assert mine.source == theirs.source, f"cell {mine.id}'s code differs from the English"
        if theirs.outputs and re.search(r"^check\(\"", theirs.source, re.MULTILINE):
            assert_check_lines_translated(mine, theirs, language)
        else:
            assert mine.outputs == theirs.outputs, f"cell {mine.id}'s outputs differ from the English"


def assert_check_lines_translated(mine, theirs, language):
    """The line check() printed for a right answer, in the language, and every other output as in the English."""
    for output, english in zip(mine.outputs, theirs.outputs, strict=True):
        if english.get("name") != "stdout":
            assert output == english
            continue
        right = re.fullmatch(r"(\S+): right \((\d+) points?\)\n", english.text)
        assert right, f"cell {mine.id}: not a right answer in the English reference: {english.text!r}"
        exercise = EXERCISES[right[1]]
        assert int(right[2]) == exercise.points
        assert output.text == messages.right_message(exercise.id, exercise.points, language) + "\n"


@pytest.mark.parametrize("language", LANGUAGES)
def test_arabic_text_reads_right_to_left_with_inline_english_isolated(language):
    english, translated = english_and_translated(language, "01_speed")
    for cell in translated.cells:
        if cell.cell_type == "markdown":
            assert cell.source.startswith('<div dir="rtl">\n\n') and cell.source.endswith("\n\n</div>")
            unisolated = re.sub(r"<bdi>`[^`]+`</bdi>", "", cell.source)
            assert "`" not in unisolated, f"cell {cell.id} has a code span outside <bdi>"
    assert "<bdi>30 s</bdi>" in "".join(cell.source for cell in translated.cells)


def test_isolating_inline_english_leaves_the_rest_alone():
    text = "نحو 30 s و11.3x عند 64x64 بكسلًا، و`pipeline.to(\"cuda\")`\nثم `a\nb` في الخطوة 1."
    assert translations.isolate_inline_english(text) == (
        "نحو <bdi>30 s</bdi> و<bdi>11.3x</bdi> عند <bdi>64x64</bdi> بكسلًا، و<bdi>`pipeline.to(\"cuda\")`</bdi>\n"
        "ثم <bdi>`a\nb`</bdi> في الخطوة 1.")


def test_a_changed_english_cell_is_named_with_the_command_that_shows_the_change(language="ar"):
    english = nbformat.read(NOTEBOOKS / "01_speed.ipynb", as_version=4)
    sections = translations.read_sections(translations.translation_file("01_speed", language))
    changed = next(cell for cell in english.cells if cell.cell_type == "markdown" and cell.id != "cell-00")
    changed.source += "\n\nOne more sentence."
    del sections["cell-00"]
    assert translations.problems(english, sections, "01_speed", language) == [
        f"translations/{language}/01_speed.md: cell cell-00 has no translation (add a section under <!-- cell cell-00 "
        f"english {translations.english_hash(english.cells[0].source)} -->)",
        f"translations/{language}/01_speed.md: cell {changed.id} translates an older English text (see what changed: "
        "sdtutorial translations --diff 01_speed)",
    ]


def test_the_diff_shows_what_changed_in_the_english_since_the_translation(tmp_path, monkeypatch, language="ar"):
    """The English text a section translates is found in git's history by its hash (here: the committed one)."""
    english = nbformat.read(NOTEBOOKS / "01_speed.ipynb", as_version=4)
    changed = next(cell for cell in english.cells if cell.id == "cell-03")
    changed.source = changed.source.replace("## Setup", "## Setting up")
    nbformat.write(english, tmp_path / "01_speed.ipynb")
    monkeypatch.setattr(translations, "NOTEBOOKS_DIR", tmp_path)
    diff = translations.english_diff("01_speed", language)
    assert "-## Setup\n+## Setting up\n" in diff and diff.startswith("--- cell-03 (translated, ")


def test_the_command_refuses_to_write_a_stale_translation_and_says_what_to_do(tmp_path, monkeypatch, capsys):
    english = tmp_path / "en"
    english.mkdir()
    notebook = nbformat.read(NOTEBOOKS / "05_playground.ipynb", as_version=4)
    notebook.cells[0].source += " And one more thing."
    nbformat.write(notebook, english / "05_playground.ipynb")
    monkeypatch.setattr(translations, "NOTEBOOKS_DIR", english)  # where it would write: english/ar/
    monkeypatch.setattr("sdtutorial.notebooks.NOTEBOOKS_DIR", english)
    assert main(["translations", "--lang", "ar"]) == 1
    out = capsys.readouterr().out
    assert "ar: wrote 0 notebooks" in out
    assert f"cell {notebook.cells[0].id} translates an older English text" in out
    assert not (english / "ar").exists()


def test_every_check_message_has_a_translation_with_the_same_placeholders():
    fields = lambda text: sorted(name for _, name, _, _ in string.Formatter().parse(text) if name)  # noqa: E731
    for language in LANGUAGES:
        catalog = messages.catalog(language)
        translated = {m.id: m for m in catalog if m.id}
        assert set(translated) == set(catalog_messages()), f"run {REMAKE}"
        for message in catalog_messages():
            entry = translated[message]
            assert entry.string and not entry.fuzzy, f"sdtutorial/locale/{language}.po: {message!r} untranslated"
            assert fields(entry.string) == fields(message), f"{language}: placeholders of {message!r}"


def test_check_speaks_the_language_of_the_notebook(capsys):
    try:
        messages.use_language("ar")
        with pytest.raises(NotYetRight) as raised:
            check("01-euler", None)
        assert str(raised.value) == "\u206701-euler: ليس بعد: لا إجابة بعد: شغّل خلية حلّك أولًا\u2069"
        with pytest.raises(NotYetRight, match="المطلوب صورة واحدة، وعدد الصور المعطاة 2"):
            check("01-euler", [None, None])
        slip = next(iter(EXERCISES["02-unet-megabytes"].mistakes))
        wrong = EXERCISES["02-unet-megabytes"].mistakes[slip]()
        with pytest.raises(NotYetRight, match=re.escape(messages.translate(slip, "ar"))):
            check("02-unet-megabytes", wrong)
    finally:
        messages.use_language("en")
    with pytest.raises(NotYetRight, match="^01-euler: not yet: no answer yet"):
        check("01-euler", None)
    with pytest.raises(ValueError, match="no 'fr' edition; languages: en, ar"):
        messages.use_language("fr")


def test_each_edition_has_the_same_notebooks():
    english = [path.name for path in available_notebooks()]
    for language in LANGUAGES:
        assert [path.name for path in available_notebooks(notebooks_folder(language))] == english
        assert (notebooks_folder(language) / "images" / "playground.png").is_file()


@pytest.mark.extended
@pytest.mark.slow
def test_run_lang_ar_runs_the_arabic_notebook_and_its_checks_answer_in_arabic(tmp_path, capsys):
    quick = {"num_inference_steps": 4, "max_batch_size": 4, "attention_size": 128, "attention_batch_size": 2,
             "attention_repeats": 1, "real_scale": False}
    parameters = [item for name, value in quick.items() for item in ("-p", name, str(value))]
    assert main(["run", "--lang", "ar", "memory", *parameters, "-o", str(tmp_path)]) == 0
    assert "| 02_memory | ok |" in capsys.readouterr().out
    ran = nbformat.read(tmp_path / "02_memory.ipynb", as_version=4)
    printed = "".join(output.get("text", "") for cell in ran.cells if cell.cell_type == "code"
                      and re.search(r'^check\("', cell.source, re.MULTILINE) for output in cell.outputs)
    assert printed == "".join(messages.right_message(exercise, 1, "ar") + "\n"
                              for exercise in ("02-generators", "02-unet-megabytes"))


def test_notebooks_come_in_arabic(tmp_path, capsys):
    assert main(["notebooks", str(tmp_path / "lesson"), "--lang", "ar"]) == 0
    copied = nbformat.read(tmp_path / "lesson" / "01_speed.ipynb", as_version=4)
    assert copied.metadata["sdtutorial"]["language"] == "ar"
    assert (tmp_path / "lesson" / "images" / "playground.png").is_file()
    with pytest.raises(SystemExit, match="2"):
        main(["notebooks", str(tmp_path / "other"), "--lang", "fr"])
    assert "invalid choice: 'fr'" in capsys.readouterr().err
