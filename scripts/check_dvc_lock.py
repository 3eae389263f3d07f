"""Fail when the committed dvc.lock is stale: code, config or parameters changed since `dvc repro`.

`dvc status` also reports outputs that are merely absent (a fresh clone has no DVC cache) and
the dependencies that are such outputs; those are not staleness and are ignored here. What
counts is a changed command, a changed parameter, or a dependency that git tracks (code,
conf/, data shipped in the repo) whose hash differs from the lock.

Usage: python scripts/check_dvc_lock.py   (exit 1 with the stale stages named, else 0)
"""

from __future__ import annotations

import json
import subprocess
import sys


def tracked(paths: list[str]) -> set[str]:
    """The paths among ``paths`` that git tracks (a folder counts when it holds tracked files)."""
    out = subprocess.run(
        ["git", "ls-files", "--", *paths], capture_output=True, text=True, check=True
    ).stdout.split()
    return {p for p in paths if any(f == p or f.startswith(p.rstrip("/") + "/") for f in out)}


def stale_stages(status: dict[str, list[object]]) -> dict[str, list[str]]:
    """Stage -> what changed, for changes a `dvc repro` would have to record in dvc.lock."""
    found: dict[str, list[str]] = {}
    for stage, entries in status.items():
        for entry in entries:
            if isinstance(entry, str):  # "changed command", "always changed"
                found.setdefault(stage, []).append(entry)
                continue
            assert isinstance(entry, dict)
            for kind, changes in entry.items():
                if kind == "changed params":
                    found.setdefault(stage, []).append(f"params {sorted(changes)}")
                elif kind == "changed deps":
                    code = tracked([p for p, how in changes.items() if how == "modified"])
                    if code:
                        found.setdefault(stage, []).append(f"deps {sorted(code)}")
    return found


def main() -> int:
    """Run `dvc status --json` and report stale stages."""
    done = subprocess.run(["dvc", "status", "--json"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    stale = stale_stages(json.loads(done.stdout or "{}"))
    for stage, what in stale.items():
        print(f"dvc.lock is stale: stage {stage!r} changed {', '.join(what)}", file=sys.stderr)
    if stale:
        print("run `uv run dvc repro` and commit dvc.lock with the outputs.", file=sys.stderr)
        return 1
    print("dvc.lock matches the code, conf/ and params.yaml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
