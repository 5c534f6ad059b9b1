"""The README's Python blocks run as written (those without `...` placeholders)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return [b for b in blocks if '"..."' not in b and "1//..." not in b]


def test_readme_python_blocks_run() -> None:
    blocks = _blocks()
    assert len(blocks) >= 4
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(README), "exec"), {"__name__": "__readme__"})
        assert out.getvalue() or "print(" not in block
