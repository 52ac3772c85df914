"""Every Python code block of README.md and docs/ marked runnable runs as it is written.

A block is runnable when the line ``<!-- runnable -->`` comes right before its fence. Each runs
as a script in its own interpreter (so ``asyncio.run`` and imports behave as for a reader who
copies it), and must exit 0 within a minute.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"<!-- runnable -->\n```python\n(.*?)\n```", re.DOTALL)


def runnable_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for index, match in enumerate(MARKER.finditer(path.read_text())):
            blocks.append((f"{path.relative_to(ROOT)}#{index + 1}", match.group(1)))
    return blocks


BLOCKS = runnable_blocks()


def test_the_docs_have_runnable_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_runnable_block_runs(where: str, code: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, f"{where} failed:\n{result.stdout}\n{result.stderr}"
