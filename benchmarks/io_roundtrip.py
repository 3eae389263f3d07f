"""Network file round trips at scale: bnlab write/read in every format, beside pyAgrum.

For each large bnlearn network in ``tests/data/networks`` (default: barley, diabetes, link,
munin, munin1-4, pathfinder, mildew: 35 to 1,041 variables, 19,226 to 547,158 CPT
entries each), read the BIF file with :func:`bnlab.io.read_network`, then for every format
bnlab writes (``xml``, ``xmlbif``, ``bifxml``, ``net``, ``uai``, ``xdsl``, ``dsl``, ``bif``):

* time :func:`bnlab.io.write_network` to a plain (not gzipped) file and
  :func:`bnlab.io.read_network` of that file, best of ``--repeats``;
* check that the network read back equals the original exactly (structure, state order,
  parent order, CPTs bit for bit). This is the check ``tests/test_io_formats.py`` leaves
  to this benchmark for its largest networks: any difference, or an error while writing or
  reading, is reported by network and format after the table and the script exits 1;
* time pyAgrum's ``gum.saveBN`` and ``gum.loadBN`` of its own file in the same format,
  best of ``--repeats``, on the network pyAgrum loaded from the same BIF text. pyAgrum
  saves and loads ``bifxml``, ``net``, ``uai``, ``xdsl``, ``dsl`` and ``bif``; it knows no
  ``.xml`` or ``.xmlbif`` suffix (bnlab's ``xml`` and ``xmlbif`` are the XMLBIF format of
  its ``bifxml``), so those rows have no pyAgrum figures. Where pyAgrum refuses to save a
  network (here its BIF and DSL writers reject state names that start with a digit, such
  as ``1_1``) the cell says ``fails``, its error is printed after the table (a note, not a
  failure of the benchmark), and its read time, marked ``*``, is of bnlab's file in that
  format.

Ratios are pyAgrum seconds / bnlab seconds: above 1 means bnlab is faster. A warm-up round
trip of ASIA in every format (both libraries) runs first, so no row pays for imports.

Run: ``uv run python benchmarks/io_roundtrip.py [--networks barley,mildew] [--repeats 1]``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import bnlab
from bnlab.io import read_network, write_network

HERE = Path(__file__).resolve().parent
NETWORK_DIR = HERE.parent / "tests" / "data" / "networks"
NETWORKS = [
    "barley",
    "diabetes",
    "link",
    "munin",
    "munin1",
    "munin2",
    "munin3",
    "munin4",
    "pathfinder",
    "mildew",
]
FORMATS = ["xml", "xmlbif", "bifxml", "net", "uai", "xdsl", "dsl", "bif"]
#: The suffixes pyAgrum's ``saveBN`` / ``loadBN`` accept among bnlab's formats.
PYAGRUM_FORMATS = {"bifxml", "net", "uai", "xdsl", "dsl", "bif"}


@dataclass
class Row:
    """One network in one format."""

    network: str
    variables: int
    entries: int
    suffix: str
    write_s: float | None = None
    read_s: float | None = None
    gum_write_s: float | None = None
    gum_read_s: float | None = None
    gum_problem: str = ""
    gum_read_ours: bool = False
    equal: bool = False
    problem: str = ""


def best_of[T](fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Best wall time of ``fn()`` over ``repeats`` calls (at least one), and its result."""
    best = float("inf")
    for _ in range(max(repeats, 1)):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def import_pyagrum() -> Any:
    """``pyagrum``, imported without its dependencies' deprecation noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyagrum as gum

    return gum


def bench_network(name: str, work: Path, repeats: int) -> list[Row]:
    """Round-trip one network in every format with bnlab, and with pyAgrum where it can."""
    gum = import_pyagrum()
    source = NETWORK_DIR / f"{name}.bif.gz"
    net = read_network(source)
    entries = sum(int(net.cpt(v).size) for v in net.variables)
    folder = work / name
    folder.mkdir()
    bif = folder / f"{name}.source.bif"  # pyAgrum reads no gzip: the same BIF text, plain
    bif.write_bytes(gzip.decompress(source.read_bytes()))
    gbn = gum.loadBN(str(bif))
    rows = []
    for suffix in FORMATS:
        row = Row(name, len(net.variables), entries, suffix)
        path = folder / f"{name}.{suffix}"
        try:
            row.write_s, _ = best_of(partial(write_network, net, path), repeats)
            row.read_s, back = best_of(partial(read_network, path), repeats)
            row.equal = back == net
            if not row.equal:
                row.problem = "the network read back differs from the original"
        except Exception as exc:  # report it by network and format, after the table
            row.problem = f"{type(exc).__name__}: {exc}"
        if suffix in PYAGRUM_FORMATS:
            theirs = str(folder / f"{name}.pyagrum.{suffix}")
            try:  # pyAgrum refuses some networks: a note, not a failure of the benchmark
                row.gum_write_s, _ = best_of(partial(gum.saveBN, gbn, theirs), repeats)
            except Exception as exc:
                row.gum_problem = f"saveBN: {type(exc).__name__}: {exc}"
                theirs, row.gum_read_ours = str(path), True  # it reads bnlab's file instead
            try:
                row.gum_read_s, _ = best_of(partial(gum.loadBN, theirs), repeats)
            except Exception as exc:
                row.gum_problem += f" loadBN: {type(exc).__name__}: {exc}"
        rows.append(row)
        print(
            f"{name}.{suffix}: bnlab write {fmt(row.write_s)} read {fmt(row.read_s)}, "
            f"pyAgrum write {fmt(row.gum_write_s)} read {fmt(row.gum_read_s)}, "
            f"equal {row.equal}",
            file=sys.stderr,
            flush=True,
        )
    return rows


def warm_up(work: Path) -> None:
    """Round-trip ASIA in every format with both libraries (imports, first-call costs)."""
    gum = import_pyagrum()
    net = bnlab.load_example("asia")
    folder = work / "warm-up"
    folder.mkdir()
    write_network(net, folder / "asia.bif")
    gbn = gum.loadBN(str(folder / "asia.bif"))
    for suffix in FORMATS:
        write_network(net, folder / f"asia.{suffix}")
        read_network(folder / f"asia.{suffix}")
        if suffix in PYAGRUM_FORMATS:
            gum.saveBN(gbn, str(folder / f"asia.pyagrum.{suffix}"))
            gum.loadBN(str(folder / f"asia.pyagrum.{suffix}"))


def fmt(seconds: float | None, failed: bool = False) -> str:
    if seconds is None:
        return "fails" if failed else "—"
    return f"{seconds:.3f}"


def ratio(theirs: float | None, ours: float | None) -> str:
    if theirs is None or ours is None or not ours > 0:
        return "—"
    return f"{theirs / ours:.1f}x"


def table(rows: list[Row]) -> str:
    lines = [
        "| network | variables | CPT entries | format | bnlab write s | bnlab read s | "
        "pyAgrum write s | pyAgrum read s | write ratio | read ratio | equal |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.network} | {r.variables} | {r.entries:,} | {r.suffix} | "
            f"{fmt(r.write_s, bool(r.problem))} | {fmt(r.read_s, bool(r.problem))} | "
            f"{fmt(r.gum_write_s, bool(r.gum_problem))} | "
            f"{fmt(r.gum_read_s, bool(r.gum_problem))}{'*' if r.gum_read_ours else ''} | "
            f"{ratio(r.gum_write_s, r.write_s)} | {ratio(r.gum_read_s, r.read_s)} | "
            f"{'yes' if r.equal else '**NO**'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    names = [n for n in args.networks.split(",") if n]
    gum = import_pyagrum()
    print(
        f"machine: {platform.processor() or platform.machine()}, nproc={os.cpu_count()}, "
        f"bnlab {bnlab.__version__}, pyAgrum {gum.__version__}, best of {args.repeats}; "
        f"load average at start: {os.getloadavg()}",
        flush=True,
    )
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bnlab-io-") as tmp:
        work = Path(tmp)
        warm_up(work)
        for name in names:
            rows.extend(bench_network(name, work, args.repeats))
    print(table(rows))
    print(f"total {time.perf_counter() - started:.0f} s; load average at end: {os.getloadavg()}")
    for r in rows:
        if r.gum_problem:
            print(f"pyAgrum fails on {r.network} in {r.suffix}: {r.gum_problem[:200]}")
    if any(r.gum_read_ours for r in rows):
        print("*: pyAgrum cannot save this network in this format; it reads bnlab's file.")
    failed = [r for r in rows if not r.equal]
    if failed:
        for r in failed:
            print(f"round trip failed: {r.network} in {r.suffix}: {r.problem}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
