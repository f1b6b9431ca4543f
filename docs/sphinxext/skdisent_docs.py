"""Helpers of the skdisent documentation build (imported by name from docs/conf.py)."""

import weakref

# Figures already in the gallery: pyplot's (saved by sphinx-gallery's own scraper) and
# ours. Weak, so that a figure dropped by an example does not keep its memory.
_SEEN = weakref.WeakSet()


def figure_scraper(block, block_vars, gallery_conf, **kwargs):
    """Save the figures of :mod:`skdisent.plotting` that an example keeps in a variable.

    The plotting functions build :class:`matplotlib.figure.Figure` objects directly, not
    through pyplot (no window, no global figure list), so sphinx-gallery's matplotlib
    scraper, which asks pyplot for its figures, does not see them. This scraper runs
    before it and saves every new Figure found among the example's global variables
    that pyplot does not manage; pyplot's figures it only marks as seen, for the
    matplotlib scraper to save.
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    for number in plt.get_fignums():
        _SEEN.add(plt.figure(number))
    new = []
    for value in block_vars["example_globals"].values():
        if isinstance(value, Figure) and value not in _SEEN and value not in new:
            new.append(value)
    paths = []
    for figure, path in zip(new, block_vars["image_path_iterator"]):
        figure.savefig(path, **kwargs)
        _SEEN.add(figure)
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])
