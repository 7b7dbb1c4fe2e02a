"""``python -m tools.samples [FOLDER]``: regenerate the sample exports (default: samples/)."""

from __future__ import annotations

import sys
from pathlib import Path

from .folder import DEFAULT_FOLDER, write_samples

USAGE = "usage: python -m tools.samples [FOLDER]   (from a checkout; default: its samples/)"


def main(argv: list[str] | None = None) -> int:
    """Regenerate the samples into FOLDER and print each file written with its size."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(USAGE)
        return 2
    for path in write_samples(Path(args[0]) if args else DEFAULT_FOLDER):
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
