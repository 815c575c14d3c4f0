"""The one-line messages a learner reads from `check()`, in the language of the notebook that prints them.

English is the source: every message is written in English in the code, and `locale/<language>.po` (gettext's
format, which Poedit, Weblate and any text editor open) gives its translation. `sdtutorial translations` adds the
messages that are new to each catalog, untranslated, and marks those whose English changed as fuzzy; a message with
no translation, or a fuzzy one, stays English, and tests/test_translations.py fails until a translator fills it in.
"""

import functools
from pathlib import Path

LANGUAGES = {"en": "English", "ar": "Arabic"}
RIGHT_TO_LEFT = {"ar"}
CATALOGS_DIR = Path(__file__).parent / "locale"
_current = {"language": "en"}


def check_language(language: str) -> str:
    """`language` if the tutorial has it, else a one-line ValueError naming those it has."""
    if language not in LANGUAGES:
        raise ValueError(f"no {language!r} edition; languages: {', '.join(LANGUAGES)}")
    return language


def use_language(language: str) -> None:
    """Make `check()` speak `language` (each notebook calls this with its `language` parameter)."""
    _current["language"] = check_language(language)


def catalog_path(language: str) -> Path:
    return CATALOGS_DIR / f"{language}.po"


@functools.cache
def catalog(language: str):
    """The translations of `language` as a babel Catalog (read once)."""
    from babel.messages.pofile import read_po

    with open(catalog_path(language), "rb") as file:
        return read_po(file, locale=language)


def translate(message: str, language: str | None = None) -> str:
    """`message` in `language` (by default the one in use); the English itself where no translation is done."""
    language = language or _current["language"]
    if language == "en":
        return message
    entry = catalog(language).get(message)
    return entry.string if entry is not None and entry.string and not entry.fuzzy else message


RIGHT = ("{exercise}: right (1 point)", "{exercise}: right ({points} points)")
NOT_YET = "{exercise}: not yet: {problem}"


def right_message(exercise_id: str, points: int, language: str | None = None) -> str:
    """The line `check()` prints for a right answer."""
    return isolated(translate(RIGHT[points > 1], language).format(exercise=exercise_id, points=points), language)


def not_yet_message(exercise_id: str, problem: str, language: str | None = None) -> str:
    """The line `check()` raises with for a wrong answer, around `problem` (already in that language)."""
    return isolated(translate(NOT_YET, language).format(exercise=exercise_id, problem=problem), language)


def isolated(line: str, language: str | None = None) -> str:
    """A line of a right-to-left language inside Unicode's right-to-left isolate (U+2067 ... U+2069): output areas
    and terminals lay text out left to right, and would otherwise put the Arabic phrases around each English word in
    reading order from the left."""
    return f"\u2067{line}\u2069" if (language or _current["language"]) in RIGHT_TO_LEFT else line
