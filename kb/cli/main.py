"""The `kb` console command: `kb index|search|topics|eval ARGS` runs the same entry point as `python -m kb.<name>`."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "index": ("kb.index", "build or update the index from the content folder"),
    "search": ("kb.search", "answer one or more queries"),
    "topics": ("kb.topics.__main__", "list topics, show a topic's sections, correct or check the assignment"),
    "eval": ("kb.eval.__main__", "retrieval quality on labelled queries"),
}


def usage() -> str:
    lines = ["usage: kb COMMAND [ARGS]  (kb COMMAND --help for a command's options)", "", "commands:"]
    lines += [f"  {name:<8} {about}" for name, (_, about) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0)
    if argv[0] not in COMMANDS:
        print(f"kb: unknown command '{argv[0][:40]}'; use one of: {', '.join(COMMANDS)}", file=sys.stderr)
        sys.exit(2)
    from kb.cli.args import run

    module = importlib.import_module(COMMANDS[argv[0]][0])
    run(lambda: module.main(argv[1:]))
