"""Sphinx configuration of the skdisent documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Add ``-D plot_gallery=0`` to render the examples without running them (what CI
does; the test suite runs the examples separately in quick mode, see
``tests/test_docs.py``). Nothing here needs the network: there is no
intersphinx, so links to other projects' objects are plain text.
"""

import os
import sys
import warnings
from pathlib import Path

import skdisent

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sphinxext"))  # skdisent_docs: the gallery's figure scraper

# -- project ---------------------------------------------------------------

project = "skdisent"
author = "the skdisent developers"
copyright = "the skdisent developers"
release = skdisent.__version__
version = ".".join(release.split(".")[:2])

# -- extensions ------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
default_role = "literal"
root_doc = "index"

# autodoc / autosummary: stubs go to gen_modules/ (ignored by git, rebuilt each time)
autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}

# numpydoc renders the Parameters/Returns sections; the class template lists members
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# the plot directive (the progressive schedule's picture): code not shown, PNG only
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.autolayout": True}

# -- sphinx-gallery ---------------------------------------------------------

# The examples read SKDISENT_EXAMPLE_QUICK=1 to shrink themselves to a smoke test;
# a docs build shows their real output, so it must not inherit quick mode by accident.
if os.environ.get("SKDISENT_EXAMPLE_QUICK") == "1":
    warnings.warn("SKDISENT_EXAMPLE_QUICK=1: the gallery shows the quick (tiny) runs.")

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("skdisent",),
    "backreferences_dir": "gen_modules/backreferences",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
    "min_reported_time": 5,
    # no sg_execution_times.rst in the source tree (each example page shows its time)
    "write_computation_times": False,
    # skdisent.plotting's figures bypass pyplot: our scraper saves them, then pyplot's
    "image_scrapers": ("skdisent_docs.figure_scraper", "matplotlib"),
}

# -- HTML ------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skdisent {release}"
html_static_path = ["_static"] if (HERE / "_static").is_dir() else []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 5,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": []}
