"""The README is the contract: its test command is exactly what CI runs, and its example commands work."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = _bash_blocks(readme)
    setup, test = blocks[0].strip(), blocks[1].strip()
    assert "pip install -e ." in setup and "python -m kb.index" in setup and "streamlit run app.py" in setup
    assert "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci.splitlines()


def test_readme_eval_table_matches_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docs = (ROOT / "docs" / "eval.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (keyword|semantic|hybrid) \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$", readme, flags=re.M)
    assert len(rows) == 3
    for line in re.findall(r"^\| (?:keyword|semantic|hybrid) \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$", readme, re.M):
        assert line in docs
