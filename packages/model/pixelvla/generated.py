"""Writing the generated test data (``python -m pixelvla.testvectors``, ``python -m pixelvla.malformed``).

Both generators produce a set of named files that the Python and TypeScript tests read; the files are
replaced atomically (a reader never sees half a file) and the JSON is then formatted the way the
repository's prettier check wants it, which changes layout only, never values.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path


def dump_json(obj: object, *, ensure_ascii: bool = True) -> bytes:
    """Compact JSON with a trailing newline; NaN and infinities are refused (JSON has none)."""
    return (
        json.dumps(obj, ensure_ascii=ensure_ascii, allow_nan=False, separators=(",", ":")) + "\n"
    ).encode()


def write_files(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Write each ``name -> bytes`` into ``out_dir`` atomically; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_dir / name)
        written.append(out_dir / name)
    return written


def prettier(paths: list[Path]) -> None:
    """Run the repository's prettier on the JSON files among ``paths`` (a warning if it cannot run)."""
    root = Path(__file__).resolve().parents[3]
    files = [str(p) for p in paths if p.suffix == ".json"]
    if not files:
        return
    try:
        subprocess.run(["npx", "prettier", "--write", "--log-level", "warn", *files], cwd=root, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"warning: prettier did not run ({e}); run `npx prettier --write` on {', '.join(files)}")


def main(
    doc: str | None, default_out: Path, build: Callable[[], dict[str, bytes]], argv: list[str] | None
) -> None:
    """The generators' command line: ``--out DIR`` (default ``default_out``), then one line per file."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=default_out)
    args = ap.parse_args(argv)
    written = write_files(args.out, build())
    prettier(written)
    for p in written:
        print(f"{p} {p.stat().st_size} bytes")
