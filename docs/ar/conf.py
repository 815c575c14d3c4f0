"""Sphinx configuration of the Arabic book (`make book` builds it into docs/_build/html/ar): the English book's
settings, Arabic interface strings (sphinx-book-theme ships them), a mirrored page and the Arabic notebooks."""

from pathlib import Path

exec((Path(__file__).parent.parent / "conf.py").read_text())  # the English book's settings, then these

language = "ar"
html_title = "الانتشار الفعّال والكفء، مقيسًا"
exclude_patterns = ["_build", "notebooks/images"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["rtl.css"]


def drop_direction_wrappers(app, doctree):
    """The notebooks wrap each Arabic Markdown cell in <div dir="rtl"> ... </div> for JupyterLab; in this book the
    whole page is right to left already, and the two raw tags would straddle the sections a heading opens."""
    from docutils import nodes

    for node in list(doctree.findall(nodes.raw)):
        if node.astext().strip() in ('<div dir="rtl">', "</div>"):
            node.parent.remove(node)


def setup(app):
    app.connect("doctree-read", drop_direction_wrappers)
