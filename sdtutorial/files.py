"""Files written whole: a reader (or a run stopped half-way) sees the previous complete version or the new one."""

import csv
import io
import json
import os
import tempfile
from pathlib import Path

UMASK = os.umask(0o022)
os.umask(UMASK)  # only read: os.umask has no getter


def write_atomically(path: Path, content: str | bytes) -> Path:
    """Write `content` to a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~UMASK)  # mkstemp makes the file private; give it a new file's usual mode
        with os.fdopen(descriptor, "wb") as file:
            file.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, data, **options) -> Path:
    """`data` as indented JSON, written whole; `options` go to json.dumps (e.g. default=str)."""
    return write_atomically(path, json.dumps(data, indent=1, **options) + "\n")


def write_csv(path: Path, columns: list[str], rows: list[dict], **options) -> Path:
    """`rows` as CSV with a header of `columns`, written whole; `options` go to csv.DictWriter."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, columns, **options)
    writer.writeheader()
    writer.writerows(rows)
    return write_atomically(path, text.getvalue())


def write_image(path: Path, image, **options) -> Path:
    """A matplotlib figure (savefig) or a PIL image (save) as PNG, written whole; `options` go to that call."""
    buffer = io.BytesIO()
    if hasattr(image, "savefig"):
        image.savefig(buffer, format="png", **options)
    else:
        image.save(buffer, format="PNG", **options)
    return write_atomically(path, buffer.getvalue())


def write_notebook(path: Path, notebook) -> Path:
    """A notebook as nbformat writes it, written whole."""
    import nbformat  # slow to import; a notebook's kernel never needs it

    text = nbformat.writes(notebook)
    return write_atomically(path, text if text.endswith("\n") else text + "\n")
