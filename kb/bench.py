"""`python -m kb.bench`: the benchmark command's old name, a redirect to `python -m benchmarks.bench`.

The benchmarks are a development tool and live outside the package, in a kb checkout's `benchmarks/` folder; this
finds that folder next to an editable install (or on the path) and runs it, or says in one line where to run it.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv=None) -> int:
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "benchmarks" / "bench.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        from benchmarks.bench import main as bench_main
    except ImportError:
        print("kb: the benchmarks are a development tool: run `python -m benchmarks.bench` in a kb checkout "
              "(pip install -e \".[test]\")", file=sys.stderr)
        return 2
    return bench_main(argv)


if __name__ == "__main__":
    sys.exit(main())
