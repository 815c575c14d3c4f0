"""The one Markdown table renderer: notebooks, bench.md, sweep.md, evaluation.md and the run summary use it."""


def format_cell(value, decimals: int = 2, missing: str = "-") -> str:
    """A value as a table cell: floats with `decimals` decimals, None as `missing`, anything else as str()."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:.{decimals}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: list[str], rows: list[list], decimals: int = 2, missing: str = "-") -> str:
    """A Markdown table of `rows` under `header`, each cell formatted by format_cell."""
    def line(cells) -> str:
        return "| " + " | ".join(format_cell(c, decimals, missing) for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(row) for row in rows)])
