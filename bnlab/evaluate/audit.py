"""The conditional-independence audit: whether the independencies a graph claims hold in data.

Two directions:

* :func:`independence_audit` tests every independence the graph implies (missing edges
  that should be there show up as rejections);
* :func:`edge_audit` tests, for each edge ``p -> c``, whether ``p _||_ c | parents(c) - {p}``
  (an edge whose endpoints test independent is a candidate superfluous edge).

Both control the false discovery rate with Benjamini-Hochberg over the listed tests. Each
row carries the effect size, the conditional mutual information in nats with its interval
(:func:`bnlab.evaluate.citests.effect_interval`), and beside it the same numbers as a share
of ``min(H(X | Z), H(Y | Z))`` (the most the CMI can be). A rejected independence *counts*
(against the vetting gate) only when it is also practically large: the null "CMI <=
``min_effect`` nats" is rejected at the same FDR (Benjamini-Hochberg over the non-central
chi-square p-values, column ``q_effect``), which also puts the lower end of its effect
interval above ``min_effect``. Testing the excess over ``min_effect`` with multiplicity
control, not only reading each statement's own interval, keeps a graph of hundreds of true
statements from failing by chance (``docs/vetting-study.md``). Rows are sorted by the lower
end of the interval, largest first.

Data are a DataFrame in memory, or partitioned: a Parquet folder, glob or list of files, or
a :class:`bnlab.counts.sources.CountsSource` (e.g. on Dask). Partitioned data are reduced to
the statements' contingency tables in batched passes (:data:`TABLE_BATCH_CELLS` cells per
pass) and tested from the tables, with results equal to the in-memory audit's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from bnlab.data import encode
from bnlab.errors import BNError, DataError
from bnlab.evaluate.citests import (
    CITestResult,
    benjamini_hochberg,
    ci_test,
    ci_test_cells,
    effect_pvalue,
    table_cells,
)
from bnlab.evaluate.dsep import Independence, implied_independencies
from bnlab.network import BayesNet, Structure, as_structure

AUDIT_COLUMNS = (
    "x",
    "y",
    "given",
    "statement",
    "statistic",
    "dof",
    "p",
    "q",
    "q_effect",
    "cmi",
    "cmi_lower",
    "cmi_upper",
    "share",
    "share_lower",
    "share_upper",
    "cmi_plugin",
    "n",
    "rejected",
    "counts",
)

#: Default smallest CMI (nats) the lower end of a violation's interval must exceed to count;
#: chosen by the simulation study in ``docs/vetting-study.md``.
DEFAULT_MIN_EFFECT = 0.001

#: Cells counted per pass over partitioned data (8 bytes each).
TABLE_BATCH_CELLS = 1 << 24


def _source(structure: Structure, data: Any) -> Any:
    """A counts source for partitioned ``data`` (matching ``structure``), else ``None``."""
    from bnlab.counts.sources import counts_source, is_partitioned

    return counts_source(data, structure) if is_partitioned(data) else None


def _codes(structure: Structure, data: pd.DataFrame) -> np.ndarray:
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"the audit needs held-out data as a pandas DataFrame or Parquet files, got "
            f"{type(data).__name__}."
        )
    cols = [v for v in structure.variables if v in data.columns]
    missing = [v for v in structure.variables if v not in data.columns]
    if missing:
        raise DataError(
            f"the data have no column for {missing[:10]}; the audit tests statements about "
            "every variable of the structure, so give one column per variable (NaN = missing)."
        )
    return encode(data[cols], structure)


def _check_options(fdr: float, method: str, min_effect: float = 0.0) -> None:
    if not 0.0 < fdr < 1.0:
        raise BNError(f"fdr must lie strictly between 0 and 1, got {fdr!r}.")
    if not (isinstance(min_effect, (int, float)) and np.isfinite(min_effect) and min_effect >= 0):
        raise BNError(
            f"min_effect is a CMI in nats and must be >= 0 (e.g. 0.001), got {min_effect!r}."
        )
    if method not in ("g2", "chi2"):
        raise BNError(f"unknown CI test method {method!r}; use 'g2' or 'chi2'.")


def _table_tests(
    source: Any, statements: list[Independence], options: dict[str, Any]
) -> Iterator[CITestResult]:
    """Test each statement from its table ``(*given, x, *y)``, tables counted in batches."""
    batch: list[Independence] = []
    cells = 0
    cards = source.structure.cards

    def flush() -> Iterator[CITestResult]:
        tables = source.table_counts([(*st.given, st.x, *st.y) for st in batch])
        for st, table in zip(batch, tables, strict=True):
            yield ci_test_cells(table_cells(table, len(st.given)), **options)

    for st in statements:
        size = int(np.prod([cards[v] for v in (*st.given, st.x, *st.y)], dtype=np.float64))
        if batch and cells + size > TABLE_BATCH_CELLS:
            yield from flush()
            batch, cells = [], 0
        batch.append(st)
        cells += size
    if batch:
        yield from flush()


def _row_tests(
    structure: Structure, codes: np.ndarray, statements: list[Independence], options: dict[str, Any]
) -> Iterator[CITestResult]:
    """Test each statement on the rows in memory."""
    cards = [structure.cards[v] for v in structure.variables]
    idx = structure.index
    for st in statements:
        yield ci_test(
            codes,
            idx[st.x],
            [idx[v] for v in st.y],
            [idx[v] for v in st.given],
            cards,
            **options,
        )


def _run(
    structure: Structure,
    data: Any,
    statements: list[Independence],
    *,
    fdr: float,
    min_effect: float,
    method: str,
    permutations: int,
    interval: float,
    seed: int,
) -> pd.DataFrame:
    options: dict[str, Any] = {
        "method": method,
        "permutations": permutations,
        "interval": interval,
        "seed": np.random.default_rng(seed),
    }
    source = _source(structure, data)
    results = (
        _table_tests(source, statements, options)
        if source is not None
        else _row_tests(structure, _codes(structure, data), statements, options)
    )
    rows = []
    for st, r in zip(statements, results, strict=True):
        rows.append(
            {
                "x": st.x,
                "y": ", ".join(st.y),
                "given": st.given,
                "statement": st.statement(),
                "statistic": r.statistic,
                "dof": r.dof,
                "p": r.p,
                "cmi": r.cmi,
                "cmi_lower": r.cmi_lower,
                "cmi_upper": r.cmi_upper,
                "share": _share(r.cmi, r.entropy),
                "share_lower": _share(r.cmi_lower, r.entropy),
                "share_upper": _share(r.cmi_upper, r.entropy),
                "cmi_plugin": r.cmi_plugin,
                "n": r.n,
            }
        )
    computed = [c for c in AUDIT_COLUMNS if c not in ("q", "q_effect", "rejected", "counts")]
    out = pd.DataFrame(rows, columns=computed)
    out["q"] = benjamini_hochberg(out["p"].to_numpy(dtype=np.float64))
    out["q_effect"] = effect_qvalues(out, min_effect)
    out["rejected"] = out["q"].to_numpy() <= fdr
    out["counts"] = counting_violations(out, fdr, min_effect)
    out = out.sort_values(["cmi_lower", "q"], ascending=[False, True], kind="stable")
    return out[list(AUDIT_COLUMNS)].reset_index(drop=True)


def _share(cmi: float, entropy: float) -> float:
    """``cmi`` as a share of the entropy bound (0 when the bound is 0: nothing can vary)."""
    return float(min(cmi / entropy, 1.0)) if entropy > 0 else 0.0


def effect_qvalues(audit: pd.DataFrame, min_effect: float) -> np.ndarray:
    """BH-adjusted p-values of "CMI <= min_effect" per row (from ``statistic, dof, n``).

    NaN for every row when the table lacks those columns.
    """
    if not {"statistic", "dof", "n"} <= set(audit.columns):
        return np.full(len(audit), np.nan)
    p = effect_pvalue(
        audit["statistic"].to_numpy(dtype=np.float64),
        audit["dof"].to_numpy(dtype=np.float64),
        audit["n"].to_numpy(dtype=np.float64),
        min_effect,
    )
    return benjamini_hochberg(p)


def counting_violations(audit: pd.DataFrame, fdr: float, min_effect: float) -> np.ndarray:
    """Rows that count against the gate, for the thresholds given.

    A row counts when its independence is rejected (``q <= fdr``), the lower end of its
    effect interval exceeds ``min_effect`` and, where ``statistic, dof, n`` are known, the
    null ``CMI <= min_effect`` is rejected at FDR ``fdr`` too (BH over the non-central
    p-values: multiplicity control of the effect, which a per-row interval lacks). A row
    without an effect interval (``cmi_lower`` NaN, an audit from an older bnlab) counts when
    rejected: the gate does not pass what it cannot judge.
    """
    q = audit["q"].to_numpy(dtype=np.float64)
    lower = (
        audit["cmi_lower"].to_numpy(dtype=np.float64)
        if "cmi_lower" in audit.columns
        else np.full(q.shape, np.nan)
    )
    large = np.where(np.isnan(lower), True, lower > min_effect)
    q_effect = effect_qvalues(audit, min_effect)
    excess = np.where(np.isnan(q_effect), True, q_effect <= fdr)
    return np.asarray((q <= fdr) & large & excess, dtype=bool)


def independence_audit(
    structure: Structure | BayesNet,
    data: Any,
    fdr: float = 0.05,
    *,
    min_effect: float = DEFAULT_MIN_EFFECT,
    basis: str = "pairwise",
    method: str = "g2",
    permutations: int = 0,
    bootstrap: int = 0,
    interval: float = 0.9,
    seed: int = 0,
    schema: Any = None,
) -> pd.DataFrame:
    """Test every conditional independence the graph implies on held-out data.

    Parameters
    ----------
    structure
        The graph under audit (a structure or network).
    data
        Held-out data, one column per variable (NaN = missing; such rows are left out of
        the tests that involve the variable): a DataFrame, or partitioned data (a Parquet
        folder, glob or list of files, or a :class:`bnlab.counts.sources.CountsSource`),
        which give the same results from contingency tables counted in batched passes.
    fdr
        False discovery rate controlled by Benjamini-Hochberg over all listed statements.
    min_effect
        Smallest CMI (nats) that matters: a rejected statement counts against the gate only
        when the lower end of its effect interval exceeds it (column ``counts``).
    basis
        ``"pairwise"`` (a minimal separating set per non-adjacent pair) or ``"local"``
        (the local Markov basis); see :func:`bnlab.evaluate.dsep.implied_independencies`.
    method
        ``"g2"`` or ``"chi2"``.
    permutations
        When > 0, p-values from that many within-stratum permutations (for sparse tables).
    bootstrap
        Not used any more (the CMI interval is analytic, see
        :func:`bnlab.evaluate.citests.effect_interval`); accepted so older calls work.
    interval
        Probability mass of the CMI interval.
    seed
        Seed of the permutations.
    schema
        A :class:`bnlab.Schema` turning a raw ``data`` frame into states.

    Returns
    -------
    pandas.DataFrame
        A row per statement, sorted by ``cmi_lower`` (largest first): ``x, y, given,
        statement, statistic, dof, p, q``, ``q_effect`` (BH-adjusted p-value of "CMI <=
        min_effect"), the effect ``cmi, cmi_lower, cmi_upper`` (nats;
        median-unbiased point and interval), ``share, share_lower, share_upper`` (the same
        as a share of ``min(H(X | Z), H(Y | Z))``), ``cmi_plugin`` (``G² / 2n``), ``n``,
        ``rejected`` (the independence is refuted at ``fdr``) and ``counts`` (rejected,
        ``cmi_lower > min_effect`` and ``q_effect <= fdr``: a violation that counts against
        the vetting gate).
    """
    from bnlab.schema import as_categorical

    data, _ = as_categorical(data, schema)
    s = as_structure(structure)
    _check_options(fdr, method, min_effect)
    return _run(
        s,
        data,
        implied_independencies(s, basis),
        fdr=fdr,
        min_effect=min_effect,
        method=method,
        permutations=permutations,
        interval=interval,
        seed=seed,
    )


def edge_audit(
    structure: Structure | BayesNet,
    data: Any,
    fdr: float = 0.05,
    *,
    method: str = "g2",
    permutations: int = 0,
    bootstrap: int = 0,
    interval: float = 0.9,
    seed: int = 0,
) -> pd.DataFrame:
    """Test each edge ``p -> c`` as ``p _||_ c | parents(c) - {p}``: candidate superfluous edges.

    Parameters are those of :func:`independence_audit`.

    Returns
    -------
    pandas.DataFrame
        A row per edge with the columns of :func:`independence_audit` (``x`` the parent,
        ``y`` the child) and ``superfluous``: the dependence is *not* detected at ``fdr``.
    """
    s = as_structure(structure)
    _check_options(fdr, method)
    statements = [
        Independence(p, (c,), tuple(q for q in s.parents[c] if q != p)) for p, c in s.edges
    ]
    out = _run(
        s,
        data,
        statements,
        fdr=fdr,
        min_effect=0.0,
        method=method,
        permutations=permutations,
        interval=interval,
        seed=seed,
    )
    out["superfluous"] = ~out["rejected"].to_numpy()
    return out


def counted_violations(audit: pd.DataFrame) -> int:
    """Number of rows that count against the gate (the ``counts`` column)."""
    return int(audit["counts"].sum()) if "counts" in audit.columns and len(audit) else 0


def rejected_share(audit: pd.DataFrame) -> float:
    """Share of the audited statements that were rejected (0 when nothing was tested)."""
    return float(audit["rejected"].mean()) if len(audit) else 0.0
