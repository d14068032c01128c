"""The lake site: static HTML pages of a lake's runs, tables, quality metrics and matches.

``lakeforge docs build`` writes it under ``<lake>/metadata/site/`` (a local folder or
s3://) and the job lifecycle updates it after every run, rewriting only the pages the run
changed. The pages need no server and fetch nothing at view time: the charts are inline SVG
drawn by Altair / vl-convert (Splink's own match-weight chart among them). Everything shown is
read from the lake's files: run summaries, quarantine records, the metrics repository.

Modules: ``collect`` (data from the lake, no Spark), ``charts`` (Vega-Lite to SVG),
``pages`` (Jinja2 templates, incremental writes).

Example::

    from lakeforge.site import build_site, update_site

    index = build_site(lake)              # every page
    index = update_site(lake, run_id)     # the run's pages, its tables and the index
"""

from __future__ import annotations

from lakeforge.paths import Lake
from lakeforge.site.pages import index_uri, site_root, write_site


def build_site(lake: Lake) -> str:
    """Rebuild every page of the site; returns the index's URI."""
    return write_site(lake, full=True)


def update_site(lake: Lake, run_id: str) -> str:
    """Write the pages of ``run_id`` (and of runs not shown yet), the tables they touched and
    the index; returns the index's URI."""
    return write_site(lake, run_id=run_id)


__all__ = ["build_site", "index_uri", "site_root", "update_site"]
