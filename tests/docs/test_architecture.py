"""docs/architecture.md stays true: the files it names exist, and it names every effect and
every module of the core and the runtime."""

from __future__ import annotations

import re
from pathlib import Path

from sioadapter.core import effects

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "architecture.md").read_text()


def test_every_file_the_page_names_exists():
    named = set(re.findall(r"sioadapter/[\w/]+\.py", PAGE))
    assert named, "the page names no files"
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == []


def test_every_effect_is_in_the_table():
    rows = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)? \|", PAGE, flags=re.M))
    listed = {name for row in rows for name in row if name}
    assert set(effects.__all__) - {"Effect"} == listed


def test_every_module_of_the_core_and_the_runtime_is_named():
    for package in ("core", "_runtime"):
        for module in (ROOT / "sioadapter" / package).glob("*.py"):
            if module.name != "__init__.py":
                assert module.name in PAGE, f"{package}/{module.name} is not on the page"
