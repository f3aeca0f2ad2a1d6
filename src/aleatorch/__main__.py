"""Command line: ``python -m aleatorch <command>``."""

from __future__ import annotations

import sys

USAGE = """\
usage: python -m aleatorch <command>

commands:
  tour    a guided, printed tour of the library (a few seconds on a CPU)
"""


def main(argv: list[str] | None = None) -> int:
    """Dispatch a command; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    if args[0] == "tour" and len(args) == 1:
        from ._tour import main as tour

        return tour()
    print(f"unknown command: {' '.join(args)}\n", file=sys.stderr)
    print(USAGE, end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
