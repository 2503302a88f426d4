"""The demo's ``report.html``: its Markdown report with the plots inlined, above a view of solutions.

Why: ``report.md`` needs its PNGs beside it and a Markdown viewer; the HTML file is the same report
in one file that any browser opens offline, and below it the reader can look at the solutions the
numbers come from (every verifier's step scores side by side, :mod:`prmkit.view`).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from pathlib import Path

from prmkit.types import LabelledSolution
from prmkit.view._data import PRMScores

__all__ = ["markdown_html", "write_report"]

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+\.png)\)")


def markdown_html(markdown: str, folder: str | os.PathLike[str]) -> str:
    """``markdown`` as HTML (CommonMark + tables, by markdown-it-py, which rich already needs), each
    ``![name](file.png)`` found in ``folder`` inlined as a base64 data URI. Raw HTML in the text is
    escaped, not passed through."""
    from markdown_it import MarkdownIt

    def inline(match: re.Match[str]) -> str:
        file = Path(folder) / match.group(2)
        if not file.is_file():
            return match.group(0)
        return f"![{match.group(1)}](data:image/png;base64,{base64.b64encode(file.read_bytes()).decode('ascii')})"

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(_IMAGE.sub(inline, markdown))


def write_report(path: str | os.PathLike[str], markdown: str, folder: str | os.PathLike[str],
                 solutions: Sequence[tuple[str, LabelledSolution]], prms: Sequence[PRMScores],
                 title: str = "prmkit report") -> str:
    """Write the report (``markdown``, plots from ``folder``) and the view of ``solutions`` to ``path``.

    Returns:
        The path written.
    """
    from prmkit.view import write_view

    body = f'<section class="report">{markdown_html(markdown, folder)}</section>'
    intro = (f"<h2>Sampled held-out solutions ({len(solutions)})</h2><p class=\"note\">Each verifier's step scores on "
             "solutions drawn at random (seeded) from the held-out set; true first errors are the arith task's exact ones.</p>")
    return write_view(path, solutions, prms, title, before=body + intro)
