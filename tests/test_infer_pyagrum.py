"""Exact inference on bnlearn networks agrees with pyAgrum's LazyPropagation to 1e-6.

pyAgrum reads the same BIF file with its own parser (gum.loadBN), so the comparison also
covers bnlab's reader. Evidence rows are forward samples of the network with most values
hidden (so none is impossible), plus soft evidence on one variable per row.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import network_path

import bnlab
from bnlab.infer import Engine


def _pyagrum() -> Any:
    # the SWIG module warns at import (an error under filterwarnings=error segfaults inside
    # the extension's init); callers also wrap pyAgrum calls (Tensor.toarray sets the
    # deprecated ndarray.shape under NumPy 2.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyagrum as gum
    return gum


def _load(name: str, tmp_path: Path) -> tuple[bnlab.BayesNet, Any]:
    src = network_path(name)
    bif = tmp_path / f"{name}.bif"
    bif.write_bytes(gzip.decompress(src.read_bytes()))
    gum = _pyagrum()
    net = bnlab.read_network(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            gbn = gum.loadBN(str(bif))
        except gum.FatalError:  # pyAgrum's BIF grammar rejects state names like Asy/Patch
            from bnlab.io import to_pyagrum

            gbn = to_pyagrum(net)
    return net, gbn


def _evidence(net: bnlab.BayesNet, rows: int, observed: int, seed: int) -> pd.DataFrame:
    df = bnlab.sample(net, n=rows, seed=seed).astype(object)
    rng = np.random.default_rng(seed)
    for r in range(rows):
        keep = set(rng.choice(len(net.variables), size=observed, replace=False).tolist())
        for j in range(len(net.variables)):
            if j not in keep:
                df.iloc[r, j] = None
    return df


def _compare(
    net: bnlab.BayesNet,
    gbn: Any,
    ev: pd.DataFrame,
    engine: Engine,
    soft_var: str | None,
    atol: float,
) -> None:
    rows = len(ev)
    soft = None
    if soft_var is not None:
        card = net.cards[soft_var]
        lik = np.random.default_rng(1).random((rows, card)) + 0.1
        ev[soft_var] = None  # soft evidence only, on a variable without hard evidence
        soft = {soft_var: lik}
    m = engine.marginals(ev, soft=soft)
    gum = _pyagrum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ie = gum.LazyPropagation(gbn)
        for r in range(rows):
            row: dict[str, Any] = {
                v: str(x) for v, x in ev.iloc[r].items() if x is not None and not pd.isna(x)
            }
            if soft is not None and soft_var is not None:
                row[soft_var] = soft[soft_var][r].tolist()
            ie.setEvidence(row)
            ie.makeInference()
            logp = np.log(ie.evidenceProbability())
            assert m.log_prob[r] == pytest.approx(logp, abs=atol, rel=atol)
            for v in net.variables:
                got = m[v][r]
                want = ie.posterior(v).toarray()
                np.testing.assert_allclose(got, want, atol=atol, err_msg=f"row {r}, {v}")


@pytest.mark.parametrize("name", ["alarm", "child", "insurance"])
def test_agrees_with_lazy_propagation(name: str, tmp_path: Path) -> None:
    net, gbn = _load(name, tmp_path)
    engine = Engine(net)
    ev = _evidence(net, rows=12, observed=6, seed=11)
    _compare(net, gbn, ev, engine, soft_var=net.variables[len(net.variables) // 2], atol=1e-6)


def test_disagreement_is_detected(tmp_path: Path) -> None:
    """A perturbed CPT gives answers pyAgrum does not match (the comparison can fail)."""
    net, gbn = _load("child", tmp_path)
    cpts = dict(net.cpts)
    v = net.variables[0]
    cpts[v] = cpts[v][::-1].copy()
    wrong = Engine(net.with_cpts(cpts))
    ev = _evidence(net, rows=4, observed=3, seed=2)
    with pytest.raises(AssertionError):
        _compare(net, gbn, ev, wrong, soft_var=None, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hepar2", "win95pts", "pathfinder", "andes"])
def test_large_networks_agree_with_lazy_propagation(name: str, tmp_path: Path) -> None:
    net, gbn = _load(name, tmp_path)
    engine = Engine(net)
    ev = _evidence(net, rows=8, observed=8, seed=5)
    _compare(net, gbn, ev, engine, soft_var=net.variables[len(net.variables) // 3], atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pathfinder", "andes"])
def test_float32_with_every_other_variable_observed(name: str, tmp_path: Path) -> None:
    """float32 stays accurate (marginals to 2e-4, log P(e) to 1e-5 relative) with half the
    network observed; the underflow case proper is test_float32_long_chain_does_not_underflow.
    """
    net, gbn = _load(name, tmp_path)
    ev = bnlab.sample(net, n=3, seed=7).astype(object)
    for j, _ in enumerate(net.variables):
        if j % 2 == 1:
            ev.iloc[:, j] = None
    eng32 = Engine(net, dtype=np.float32)
    m = eng32.marginals(ev)
    assert m[net.variables[0]].dtype == np.float64  # returned as float64
    gum = _pyagrum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ie = gum.LazyPropagation(gbn)
        for r in range(len(ev)):
            row = {v: str(x) for v, x in ev.iloc[r].items() if x is not None}
            ie.setEvidence(row)
            ie.makeInference()
            logp = np.log(ie.evidenceProbability())
            assert m.log_prob[r] == pytest.approx(logp, rel=1e-5)
            for v in net.variables:
                np.testing.assert_allclose(
                    m[v][r], ie.posterior(v).toarray(), atol=2e-4, err_msg=f"row {r}, {v}"
                )
