"""`make bench`: runs every benchmark in its own process, one after the other, and repeats
their RESULT lines at the end. Each benchmark prints ratios measured within its own run
(never absolute times compared against a constant).

    .venv/bin/python bench/run_all.py [--quick] [name ...]   (names: generate, api_ingest, ...)
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = [
    ("visit generation", "bench/generate.py"),
    ("API ingestion", "bench/api_ingest.py"),
    ("event store", "bench/events.py"),
    ("agent workspace", "bench/workspace.py"),
    ("supervision dashboard and export", "bench/supervision.py"),
]


def main() -> int:
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    only = {a for a in sys.argv[1:] if not a.startswith("--")}
    finals = []
    results: list[str] = []
    failed = 0
    for title, script in BENCHMARKS:
        if only and not any(o in script for o in only):
            continue
        print(f"\n=== {title}: {script} ===", flush=True)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, script, *flags],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        print(proc.stdout, end="", flush=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        last = lines[-1] if lines else "(no RESULT line)"
        results.extend(lines[-1:])
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        failed += proc.returncode != 0
        finals.append(f"{title}: {last}  [{status}, {time.monotonic() - started:.0f} s]")
    print("\n=== summary ===")
    for line in finals:
        print(line)
    print()
    for line in results:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
