"""Each pipeline stage is its own process: importing a module must not pull in libraries
that it does not use (JAX, scipy.stats, Dask), or every stage pays their start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("jax", "scipy.stats", "distributed", "pyarrow.dataset", "mlflow")

LIGHT_MODULES = {
    "bnlab": HEAVY,
    "bnlab.evaluate": HEAVY,
    "bnlab.explain": HEAVY,
    "bnlab.infer": HEAVY,
    "bnlab.report": HEAVY,
    "bnlab.stages.prepare": HEAVY,
    "bnlab.stages.fit": HEAVY,
    "bnlab.stages.evaluate": HEAVY,
    "bnlab.stages.report": HEAVY,
    "bnlab.cli.commands": HEAVY,
    "bnlab.ops.scoring": HEAVY,
}


@pytest.mark.parametrize("module", sorted(LIGHT_MODULES))
def test_module_import_stays_light(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"print(','.join(m for m in {LIGHT_MODULES[module]!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"importing {module} loaded {done.stdout.strip()}"


def test_lazy_names_resolve_and_are_listed() -> None:
    import bnlab.evaluate
    import bnlab.infer

    assert callable(bnlab.evaluate.vet)
    assert "calibration" in dir(bnlab.evaluate)
    assert bnlab.infer.Engine.__name__ == "Engine"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = bnlab.evaluate.nope  # type: ignore[attr-defined]


def test_top_level_help_imports_neither_numpy_nor_a_subcommand() -> None:
    code = (
        "import sys\nfrom bnlab.cli.commands import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(','.join(m for m in ('numpy', 'pandas', 'jax', 'bnlab.cli.report', "
        "'bnlab.stages.common') if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "", f"bnlab --help loaded {done.stderr.strip()}"
    assert "monitor" in done.stdout and "check a new batch" in done.stdout


def test_top_level_summaries_equal_each_subcommand_help() -> None:
    import argparse
    import importlib

    from bnlab.cli.commands import SUBCOMMANDS, SUMMARIES

    assert set(SUMMARIES) == set(SUBCOMMANDS)
    for name, module in SUBCOMMANDS.items():
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        importlib.import_module(module).add_parser(subparsers)
        helps = {a.dest: a.help for a in subparsers._choices_actions}
        assert helps[name] == SUMMARIES[name], name
