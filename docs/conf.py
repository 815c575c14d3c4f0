"""Sphinx configuration of the book: `make book` builds the notebooks, as committed, and these pages."""

project = "sdtutorial"
author = "the sdtutorial authors"
html_title = "Effective and efficient diffusion, measured"
extensions = ["myst_nb"]
nb_execution_mode = "off"  # the committed outputs are the tested ones; the book never runs a notebook
# (each notebook's results cell, JSON for papermill and the tests, carries the tag remove-cell)
nb_merge_streams = True
nb_render_markdown_format = "myst"  # the notebooks' Markdown outputs are tables, which CommonMark (the default) lacks
myst_heading_anchors = 3
# ar and notebooks/ar are the Arabic book, built on its own from docs/ar (its conf.py starts from this one)
exclude_patterns = ["_build", "notebooks/__init__.py", "notebooks/.ipynb_checkpoints", "ar", "notebooks/ar"]
html_theme = "sphinx_book_theme"
html_theme_options = {"show_toc_level": 2, "navigation_with_keys": False}
html_last_updated_fmt = None
