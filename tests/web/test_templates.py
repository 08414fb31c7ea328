"""Template source rules that a rendered page would hide: each page's title is text only."""
from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "bingan" / "web" / "templates"
TITLE = re.compile(r"{%-?\s*block title\s*-?%}(.*?){%-?\s*endblock", re.S)


def test_every_title_block_is_text_without_markup():
    """A title block holding markup (a section pasted in by a merge) puts it into <title>, not the page."""
    marked = [str(path.relative_to(TEMPLATES)) for path in sorted(TEMPLATES.rglob("*.html"))
              for title in TITLE.findall(path.read_text()) if "<" in title or "\n" in title.strip()]
    assert marked == []
