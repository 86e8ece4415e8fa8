"""The README is the contract: its test command is exactly what CI runs, and its example commands work."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

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


def _example_commands(readme: str) -> list[str]:
    """Every `python -m kb.…` line of the README's bash blocks after the two contract commands (comments cut)."""
    out = []
    for block in _bash_blocks(readme)[2:]:
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line.strip())
            if line.startswith("python -m kb.") and "--milvus-uri" not in line:   # Milvus: its own test below
                out.append(line)
    return out


@pytest.mark.slow
def test_every_example_command_in_the_readme_runs(tmp_path):
    """The README's example commands, run as written against a copy of the seed content (KB_* point at it)."""
    import shlex
    import shutil
    import sys

    from fixtures.cli import kb_env

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = _example_commands(readme)
    assert len(commands) >= 8 and any(c.startswith("python -m kb.index") for c in commands)
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    env = kb_env(KB_CONTENT_DIR=str(content), KB_INDEX_DIR=str(tmp_path / "index"))
    # the index must exist before the searches: run the index commands first, then the rest in README order
    ordered = sorted(commands, key=lambda c: not c.startswith("python -m kb.index"))
    for cmd in ordered:
        argv = shlex.split(cmd)
        proc = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=600)
        assert proc.returncode == 0, (cmd, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, (cmd, proc.stderr[-2000:])


@pytest.mark.slow
def test_the_readme_python_example_runs(tmp_path):
    import shutil
    import sys

    from fixtures.cli import kb_env, run_kb

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", readme, flags=re.S)[0]
    shutil.copytree(ROOT / "content", tmp_path / "content")
    env = kb_env(KB_CONTENT_DIR=str(tmp_path / "content"), KB_INDEX_DIR=str(tmp_path / "index"))
    assert run_kb("index", "-q", env=env).returncode == 0
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stdout.strip(), "the example prints its hits"


def _layout_modules(readme: str) -> set[str]:
    """The module paths the README's layout block names: `kb/…/x.py` from its indented tree."""
    block = readme[readme.index("## Layout"):]
    block = re.findall(r"```\n(.*?)```", block, flags=re.S)[0]
    out, stack = set(), []
    for raw in block.splitlines():
        if not raw.strip():
            continue
        depth = (len(raw) - len(raw.lstrip(" "))) // 2
        name = raw.strip().split()[0]
        stack = stack[:depth] + [name.rstrip("/")]
        if name.endswith(".py") and stack[0] == "kb":
            out.add("/".join(stack))
    return out


def test_the_readme_layout_names_every_module_and_no_other():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = _layout_modules(readme)
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "kb").rglob("*.py")}
    # a package's __init__.py is named by its folder line, unless it is listed itself
    folders = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "kb").rglob("__init__.py")}
    on_disk -= {f"{f}/__init__.py" for f in folders if f != "kb"} - named
    on_disk -= {f"{f}/__main__.py" for f in folders} - named
    assert named == on_disk, (sorted(on_disk - named), sorted(named - on_disk))


def test_the_package_ships_no_benchmark_or_harness():
    """Dev tools live in benchmarks/ (run from a checkout), never inside kb/."""
    names = {p.relative_to(ROOT).as_posix() for p in (ROOT / "kb").rglob("*.py")} - {"kb/bench.py"}
    assert not {n for n in names if Path(n).stem.startswith("bench") or Path(n).stem in ("harness", "querycost")}
    redirect = (ROOT / "kb" / "bench.py").read_text(encoding="utf-8")  # `python -m kb.bench`, the old name
    assert "from benchmarks.bench import main" in redirect and len(redirect.splitlines()) < 40
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'include = ["kb*"]' in pyproject


@pytest.mark.slow
def test_the_readme_milvus_commands_run_against_a_real_server(tmp_path):
    """The README's Milvus block (the server line replaced by the tests' own milvus-lite server on a free port)."""
    import shlex
    import shutil
    import sys

    from fixtures.cli import kb_env
    from fixtures.milvus import start_server

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in _bash_blocks(readme) if "--milvus-uri" in b)
    commands = [re.sub(r"\s+#.*$", "", line.strip()) for line in block.splitlines()]
    commands = [c for c in commands if c.startswith("python -m kb.")]
    assert [c.split()[2] for c in commands] == ["kb.index", "kb.search"]
    shutil.copytree(ROOT / "content", tmp_path / "content")
    proc, uri = start_server(tmp_path / "milvus")
    try:
        env = kb_env(KB_CONTENT_DIR=str(tmp_path / "content"), KB_INDEX_DIR=str(tmp_path / "index"))
        for cmd in commands:
            argv = [a if not a.startswith("http://127.0.0.1:") else uri for a in shlex.split(cmd)]
            out = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True, cwd=tmp_path, env=env,
                                 timeout=600)
            assert out.returncode == 0 and "Traceback" not in out.stderr, (cmd, out.stderr[-2000:])
        assert "AI trading" in out.stdout
    finally:
        proc.kill()
        proc.wait()
