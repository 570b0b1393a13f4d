"""`make bench`: runs every benchmark in its own process, one after the other, and repeats
their final lines at the end. Each benchmark prints ratios measured within its own run
(never absolute times compared against a constant)."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = [
    ("visit generation (issue 3)", "bench/generate.py"),
    ("API ingestion (issue 7)", "bench/api_ingest.py"),
    ("agent workspace (issue 4)", "bench/workspace.py"),
    ("supervision dashboard and export (issue 6)", "bench/supervision.py"),
]


def main() -> int:
    only = set(sys.argv[1:])
    finals = []
    failed = 0
    for title, script in BENCHMARKS:
        if only and not any(o in script for o in only):
            continue
        print(f"\n=== {title}: {script} ===", flush=True)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, script],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        print(proc.stdout, end="", flush=True)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        last = lines[-1] if lines else "(no output)"
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        failed += proc.returncode != 0
        finals.append(f"{title}: {last}  [{status}, {time.monotonic() - started:.0f} s]")
    print("\n=== summary ===")
    for line in finals:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
