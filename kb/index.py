"""`python -m kb.index`: build or update the index from the content folder (incremental, atomic, with progress)."""

from __future__ import annotations

import argparse
import sys

from kb.build import build
from kb.cli.args import ArgumentParser, add_backend_args, backend_settings, run
from kb.cli.term import visible_name
from kb.core.errors import BadQuery, ContentMissing
from kb.storage import store


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m kb.index", description=__doc__)
    p.add_argument("--content", metavar="DIR", help="posts folder (default: $KB_CONTENT_DIR or content/)")
    p.add_argument("--index-dir", metavar="DIR", help="index folder (default: $KB_INDEX_DIR or index/)")
    p.add_argument("--model", metavar="NAME", help="embedding model (default: $KB_MODEL or the bundled "
                   "multilingual-e5-small); any sentence-transformers model folder or installed model package")
    p.add_argument("--full", action="store_true", help="ignore the previous index and embed everything again")
    p.add_argument("--strict", action="store_true", help="exit with an error if any post had to be skipped")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verify", action="store_true", help="checksum every file of the live index and exit (opening "
                   "a large index checks the big memory-mapped files by size only)")
    add_backend_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = backend_settings(args, args.content, args.index_dir, args.model)
    if args.verify:
        if settings.backend != "local":
            raise BadQuery("--verify checks the local index folder; it does not apply to --backend milvus")
        print(f"index {verify_index(settings.index_dir)} verified: every file matches its checksum")
        return 0
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet or total == 0:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="entry", desc="embedding", file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)

    try:
        report = build(settings, full=args.full, progress=progress)
    except ContentMissing as err:
        print_skipped(getattr(err, "skipped", []))
        raise
    finally:
        if bar is not None:
            bar.close()
    print_skipped(report.skipped)
    print(report.summary())
    if args.strict and report.skipped:
        print(f"kb: {len(report.skipped)} post(s) skipped and --strict is set", file=sys.stderr)
        return 1
    return 0


def verify_index(index_dir) -> str:
    """Checksum every file of the live build (IndexCorrupt naming the first damaged one); returns its name."""
    vdir = store.current_version(index_dir)
    store.verify_files(vdir, store.read_manifest(vdir), deep=True)
    return vdir.name


def print_skipped(skipped: list[tuple[str, str]]) -> None:
    """One line per file that was not indexed: its name and the reason (control characters made visible)."""
    for name, reason in skipped:
        print(f"skipped {visible_name(name)}: {visible_name(reason)}", file=sys.stderr)


if __name__ == "__main__":
    run(main)
