"""``make bench``: every benchmark in one run (``python -m bench --lark-oapi PYTHON``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench import cold_start, throughput, warm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument(
        "--lark-oapi", type=Path, help="a Python with lark-oapi installed (make bench makes one)"
    )
    parser.add_argument("--runs", type=int, default=cold_start.RUNS, help="fresh processes per cold case")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is not met")
    args = parser.parse_args(argv)
    failed = cold_start.main(args.lark_oapi, args.runs)
    failed |= warm.main()
    failed |= throughput.main()
    print("\nall goals met" if not failed else "\nSOME GOALS NOT MET (see FAIL above)")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
