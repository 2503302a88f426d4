"""One self-contained HTML page: CSS, JavaScript and the data inlined, nothing fetched when it opens.

Why inline everything: a view is sent around as one file (attached to an issue, opened from a
cluster's scratch space), often where no network or server is available. The data is embedded
as a ``<script type="application/json">`` block, parsed once by the page, which then draws only
the visible page of solutions, so 10,000 solutions open as fast as 25.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

__all__ = ["render_page", "view_section"]


def _asset(name: str) -> str:
    return resources.files("prmkit.view").joinpath("assets", name).read_text(encoding="utf-8")


def _embedded_json(payload: Any) -> str:
    """JSON safe inside ``<script>``: every ``<`` escaped, so no string can close the tag."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def view_section() -> str:
    """The controls, summary slot and solution list the script fills in (ids are what the tests drive)."""
    return """
<h2>Per-PRM summary</h2>
<div id="summary-slot"></div>
<p class="note">Predicted first error = first step scored below the PRM's threshold; F1 = ProcessBench's
(harmonic mean of the accuracy on erroneous and on correct solutions); computed by prmkit on every solution of the view.</p>
<h2>Solutions</h2>
<div class="legend"><span>score 0 <span class="ramp"></span> 1</span>
<span><b style="outline:3px solid #222;padding:0 4px">0.31</b> predicted first error</span>
<span><span class="tag">true first error</span> (red bar: that step; grey text: steps after it)</span>
<span>steps numbered from 1</span></div>
<div class="controls">
  <label><input type="checkbox" id="f-wrong"> wrong only (true error or wrong answer)</label>
  <label><input type="checkbox" id="f-disagree"> PRMs disagree</label>
  <label><input type="checkbox" id="f-alarm"> false alarms</label>
  <label><input type="checkbox" id="f-missed"> missed errors</label>
  <label>judged by <select id="focus"><option value="-1">any PRM</option></select></label>
  <label>sort <select id="sort">
    <option value="file">file order</option><option value="id">id</option>
    <option value="min">lowest step score first</option><option value="spread">PRMs' min scores furthest apart</option>
    <option value="steps">most steps</option></select></label>
  <input type="search" id="search" placeholder="search id" aria-label="search id">
  <span id="count"></span>
</div>
<div id="list"></div>
<div class="pager"><button id="prev">&larr; prev</button><span id="page"></span><button id="next">next &rarr;</button>
<label>per page <select id="size"><option>10</option><option selected>25</option><option>50</option><option>100</option></select></label></div>
"""


def render_page(payload: dict[str, Any], before: str = "") -> str:
    """The whole HTML document of a view.

    Args:
        payload: :func:`prmkit.view._data.build_payload`'s output.
        before: trusted HTML placed above the view instead of the title heading (the demo's report,
            which has its own); empty for ``prmkit view``.

    Returns:
        The page as one string (UTF-8 when written).
    """
    title = html.escape(str(payload.get("title", "prmkit view")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{_asset("view.css")}</style>
</head><body><main>
{before or f"<h1>{title}</h1>"}
{view_section()}
</main>
<script type="application/json" id="prmkit-data">{_embedded_json(payload)}</script>
<script>{_asset("view.js")}</script>
</body></html>
"""
