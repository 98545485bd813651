"""Every source file the documentation names exists: moving a module without its docs fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_named_source_file_exists():
    missing = [
        f"{doc.relative_to(ROOT)}: {path}"
        for doc in DOCS
        for path in sorted(set(re.findall(r"\b(?:plugin|bench|scripts|tests)/[\w/]+\.py\b", doc.read_text())))
        if not (ROOT / path).exists()
    ]
    assert not missing, "\n".join(missing)
