"""Fail unless `dvc repro` would find nothing to do.

The committed dvc.lock must match the code, conf/, params.yaml and the committed outputs.

Every pipeline output is `cache: false` and committed to git, so on a fresh clone `dvc status`
must report nothing at all: a changed command or parameter, a modified dependency, and a
modified or missing output all mean the lock (or an output) was not committed after the
change that caused it.

Usage: python scripts/check_dvc_lock.py   (exit 1 with the stale stages named, else 0)
"""

from __future__ import annotations

import json
import subprocess
import sys


def describe(entries: list[object]) -> list[str]:
    """Readable lines for one stage's `dvc status --json` entries."""
    lines: list[str] = []
    for entry in entries:
        if isinstance(entry, str):  # "changed command", "always changed"
            lines.append(entry)
            continue
        assert isinstance(entry, dict)
        for kind, changes in entry.items():
            what = changes.items() if isinstance(changes, dict) else [(c, "") for c in changes]
            lines.extend(f"{kind}: {path} {how}".rstrip() for path, how in what)
    return lines


def main() -> int:
    """Run `dvc status --json` and report every stage it lists."""
    done = subprocess.run(["dvc", "status", "--json"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    status: dict[str, list[object]] = json.loads(done.stdout or "{}")
    for stage, entries in status.items():
        said = "; ".join(describe(entries))
        print(f"dvc.lock is stale: stage {stage!r}: {said}", file=sys.stderr)
    if status:
        print(
            "run `uv run dvc repro` and commit dvc.lock with the outputs (they are in git).",
            file=sys.stderr,
        )
        return 1
    print("dvc.lock and the committed outputs match the code, conf/ and params.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
