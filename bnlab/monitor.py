"""BN-aware drift detection: which variables, which families, and how surprising a batch is.

The reference is the fitted posterior itself — for a conjugate fit its Dirichlet
parameters are the prior plus the training counts, a summary of the training data that
holds no raw rows. A new batch is compared with it in three ways:

- **families**: for each variable and parent configuration, the new rows' child counts
  ``n_u`` are scored by the log Bayes factor of "this row changed" (a fresh
  ``Dirichlet(prior)`` row) against "this row is the reference row"
  (``Dirichlet(alpha_ref)`` posterior predictive), both Dirichlet-multinomial marginal
  likelihoods in closed form, summed over parent configurations. A family drifts when its
  log Bayes factor exceeds ``family_log_bf`` (default ``log 1000``).
- **marginals**: per variable, the same log Bayes factor for the batch's state counts
  against the reference marginal (a Dirichlet moment-matched to the marginal's values over
  posterior draws), so small batches, which carry little evidence, do not alarm.
- **surprise**: the batch's mean ``log P(record)`` under the posterior mean against the same
  statistic on replicated batches drawn from posterior draws with the batch's missingness
  pattern: a posterior-predictive p-value. A complete record's ``log P`` is a sum of log
  CPT entries (table look-ups), a record with one missing cell the log-sum-exp over that
  cell's states; only records with more missing cells go through the engine. A batch
  longer than ``surprise_rows`` is checked on a uniform random subset of that many rows
  (the replicates then have that size too), so the check keeps its exact meaning for that
  subset while its cost stops growing with the batch; the family and marginal checks
  always use every row, through counts.

Values that are not states of their variable are counted per column and treated as
missing; they never stop the monitor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import gammaln, logsumexp
from scipy.stats import norm

from bnlab.codes import code_dtype
from bnlab.counts import family_counts, flat_family_index
from bnlab.errors import BNError
from bnlab.network import Structure
from bnlab.posterior import Posterior
from bnlab.sampling import sample_codes

#: Default thresholds (``conf/monitor/default.yaml`` holds the same keys).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "family_log_bf": float(np.log(1000.0)),
    "marginal_log_bf": float(np.log(1000.0)),
    "surprise_alpha": 0.01,
    "unknown_rate": 0.01,
    "missing_rate": 0.5,
}
#: Most rows the surprise check uses; a longer batch is checked on a random subset.
SURPRISE_ROWS = 10_000


@dataclass
class DriftReport:
    """The outcome of :func:`drift`.

    Attributes
    ----------
    alert
        Whether any check fired.
    families
        Per variable, ranked by evidence of change: ``variable``, ``score`` (log Bayes
        factor of change), ``rows`` (complete-case rows in the family), ``drifted``.
    marginals
        Per variable: ``variable``, ``score`` (log Bayes factor of a shifted marginal),
        ``rows``, ``shifted``.
    surprise
        Posterior-predictive p-value of the batch's mean ``log P(record)``.
    mean_log_prob
        That mean, over the rows the surprise check used (all, or ``surprise_rows``).
    quality
        Per column: ``missing_rate``, ``unknown_rate``, ``unknown_values``.
    reasons
        Human-readable reasons for the alert.
    """

    alert: bool
    families: pd.DataFrame
    marginals: pd.DataFrame
    surprise: float
    mean_log_prob: float
    quality: pd.DataFrame
    thresholds: dict[str, float]
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The verdict as JSON (numbers rounded; tables as lists of records)."""

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(df.to_json(orient="records"))  # type: ignore[no-any-return]

        return json.dumps(
            {
                "alert": self.alert,
                "reasons": self.reasons,
                "surprise_ppp": self.surprise,
                "mean_log_prob": self.mean_log_prob,
                "thresholds": self.thresholds,
                "families": records(self.families),
                "marginals": records(self.marginals),
                "quality": records(self.quality),
            },
            indent=2,
        )


def reference_alpha(post: Posterior, prior_alpha: float = 1.0) -> dict[str, NDArray[np.float64]]:
    """Dirichlet parameters of the reference per CPT row.

    A conjugate posterior gives its own; for MCMC draws each row's Dirichlet is moment
    matched (mean and average variance of the draws).
    """
    if post.kind == "dirichlet":
        return {v: np.asarray(a, dtype=np.float64) for v, a in post.alpha.items()}
    out = {}
    for v, d in post.stored_draws.items():
        flat = np.asarray(d, dtype=np.float64).reshape(
            -1, *d.shape[-(len(post.structure.parents[v]) + 1) :]
        )
        m = flat.mean(axis=0)
        var = flat.var(axis=0).sum(axis=-1)
        conc = np.clip((1.0 - (m**2).sum(axis=-1)) / np.maximum(var, 1e-12) - 1.0, prior_alpha, 1e7)
        out[v] = m * conc[..., None]
    return out


def moment_matched_alpha(draws: NDArray[np.float64], floor: float = 1.0) -> NDArray[np.float64]:
    """Dirichlet parameters with the mean and (average) variance of probability draws.

    ``draws`` has the draw axis first and the simplex on the last axis.
    """
    m = draws.mean(axis=0)
    var = draws.var(axis=0).sum(axis=-1)
    spread = np.maximum(1.0 - (m**2).sum(axis=-1), 1e-12)
    conc = np.clip(spread / np.maximum(var, 1e-15) - 1.0, floor, 1e7)
    return np.asarray(np.maximum(m, 1e-12) * conc[..., None])


def dirichlet_multinomial_logml(
    counts: NDArray[np.float64], alpha: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Log marginal likelihood of a sequence of categorical counts under ``Dirichlet(alpha)``."""
    a0 = alpha.sum(axis=-1)
    n0 = counts.sum(axis=-1)
    return np.asarray(
        gammaln(a0) - gammaln(a0 + n0) + (gammaln(alpha + counts) - gammaln(alpha)).sum(axis=-1)
    )


def encode_batch(
    batch: pd.DataFrame, structure: Structure
) -> tuple[NDArray[np.signedinteger], pd.DataFrame]:
    """Integer codes of a batch (-1 = missing), and per column its missing and unknown rates.

    Values that are not states of their variable are counted and coded missing; a missing
    column is all missing. Each column is factorised once (hashing), never cast to text.
    """
    s = structure
    n = len(batch)
    codes = np.full((n, len(s.variables)), -1, dtype=code_dtype(max(s.cards.values())))
    rows = []
    for j, v in enumerate(s.variables):
        if v not in batch.columns:
            rows.append(
                {"variable": v, "missing_rate": 1.0, "unknown_rate": 0.0, "unknown_values": []}
            )
            continue
        col = batch[v]
        if isinstance(col.dtype, pd.CategoricalDtype):
            value_codes, uniques = col.cat.codes.to_numpy(), col.cat.categories
        else:
            value_codes, uniques = pd.factorize(col, use_na_sentinel=True)
        names = [str(u) for u in uniques]
        index = {state: k for k, state in enumerate(s.states[v])}
        # the last entry answers value code -1 (NaN / None): missing, not unknown
        lookup = np.array([index.get(name, -2) for name in names] + [-1], dtype=np.int64)
        col_codes = lookup[value_codes]
        unknown = col_codes == -2
        col_codes[unknown] = -1
        codes[:, j] = col_codes
        values = sorted({names[k] for k in np.unique(value_codes[unknown])})
        denom = max(n, 1)
        rows.append(
            {
                "variable": v,
                "missing_rate": float(np.count_nonzero(value_codes < 0) / denom),
                "unknown_rate": float(np.count_nonzero(unknown) / denom),
                "unknown_values": values[:10],
            }
        )
    return codes, pd.DataFrame(rows)


def family_scores(
    codes: NDArray[np.integer],
    post: Posterior,
    ref: Mapping[str, NDArray[np.float64]],
    prior: float,
) -> pd.DataFrame:
    """Log Bayes factor of change per family (see the module docstring)."""
    counts = family_counts(codes, post.structure)
    rows = []
    for v, fc in counts.items():
        n = fc.counts.astype(np.float64)
        changed = dirichlet_multinomial_logml(n, np.full_like(n, prior))
        same = dirichlet_multinomial_logml(n, ref[v])
        rows.append({"variable": v, "score": float((changed - same).sum()), "rows": int(n.sum())})
    return pd.DataFrame(rows)


class Monitor:
    """The reference side of drift checks, prepared once and reused for every batch.

    Parameters
    ----------
    post
        The reference posterior (exported with the model).
    thresholds
        Overrides of :data:`DEFAULT_THRESHOLDS` (unknown keys are an error).
    replicates
        Replicated batches for the surprise p-value.
    draws
        Posterior draws used for the reference marginals.
    seed
        Seed of the draws, the replicates and the surprise subset.
    surprise_rows
        Most rows the surprise check uses (a uniform random subset of a longer batch).
    """

    def __init__(
        self,
        post: Posterior,
        *,
        thresholds: Mapping[str, float] | None = None,
        replicates: int = 30,
        draws: int = 200,
        seed: int = 0,
        surprise_rows: int = SURPRISE_ROWS,
    ) -> None:
        from bnlab.infer import Engine

        th = dict(DEFAULT_THRESHOLDS)
        unknown_keys = sorted(set(thresholds or {}) - set(th))
        if unknown_keys:
            raise BNError(f"unknown monitor thresholds {unknown_keys}; known: {sorted(th)}.")
        th.update({k: float(v) for k, v in (thresholds or {}).items()})
        if replicates < 5:
            raise BNError(f"replicates must be at least 5, got {replicates}.")
        if surprise_rows < 100:
            raise BNError(f"surprise_rows must be at least 100, got {surprise_rows}.")
        self.post = post
        self.thresholds = th
        self.replicates = int(replicates)
        self.seed = int(seed)
        self.surprise_rows = int(surprise_rows)
        self.net = post.mean()
        s = post.structure
        self.engine = Engine(post, draws=draws, seed=seed)
        self.family_alpha = reference_alpha(post)
        # reference marginals per draw: P(v = x) = exp(log P(v = x)) for every variable and
        # state in one batched log-probability call (cheaper to compile than all marginals)
        probe = np.full((sum(s.cards.values()), len(s.variables)), -1, dtype=np.int32)
        starts = np.cumsum([0, *[s.cards[v] for v in s.variables]])
        for j, v in enumerate(s.variables):
            probe[starts[j] : starts[j + 1], j] = np.arange(s.cards[v])
        ref_marg = np.exp(self.engine.log_prob(probe))  # (draws, probe rows)
        self.marginal_alpha = {
            v: moment_matched_alpha(ref_marg[:, starts[j] : starts[j + 1]])
            for j, v in enumerate(s.variables)
        }
        self.replicate_cpts = post.draws(self.replicates, seed=seed + 1)
        self.replicate_nets = [
            self.net.with_cpts({v: self.replicate_cpts[v][r] for v in s.variables})
            for r in range(self.replicates)
        ]
        # log P(complete record) = sum over families of log CPT[parents, child]: flat tables
        with np.errstate(divide="ignore"):
            self._log_cpts = [
                np.log(np.asarray(self.net.cpt(v), dtype=np.float64)).reshape(-1)
                for v in s.variables
            ]
        self._families = [
            (
                s.index[v],
                [s.index[p] for p in s.parents[v]],
                [s.cards[p] for p in s.parents[v]],
                s.cards[v],
            )
            for v in s.variables
        ]
        self._cards = np.array([s.cards[v] for v in s.variables])

    def _complete_log_probs(self, full: NDArray[np.signedinteger]) -> NDArray[np.float64]:
        """``log P(record)`` of complete records: a sum of log CPT entries per row."""
        acc = np.zeros(full.shape[0], dtype=np.float64)
        for (j, cols, cards, card), table in zip(self._families, self._log_cpts, strict=True):
            idx = flat_family_index(full, cols, cards)
            idx *= card
            idx += full[:, j]
            acc += table[idx]
        return acc

    def record_log_probs(self, codes: NDArray[np.signedinteger]) -> NDArray[np.float64]:
        """``log P(record)`` under the posterior mean per row of codes (-1 = missing).

        Complete rows are sums of log CPT entries (table look-ups); a row with one missing
        cell is the log-sum-exp of its completions (one look-up pass per state); rows with
        more missing cells go through the engine, which sums the missing cells out.
        """
        out = np.empty(codes.shape[0], dtype=np.float64)
        n_missing = (codes < 0).sum(axis=1)
        complete = n_missing == 0
        out[complete] = self._complete_log_probs(codes[complete])
        one = np.flatnonzero(n_missing == 1)
        if one.size:
            rows = codes[one]
            col = np.argmax(rows < 0, axis=1)
            card = self._cards[col]
            terms = np.full((one.size, int(card.max())), -np.inf)
            for x in range(terms.shape[1]):
                ok = np.flatnonzero(card > x)
                filled = rows[ok]
                filled[np.arange(ok.size), col[ok]] = x
                terms[ok, x] = self._complete_log_probs(filled)
            out[one] = logsumexp(terms, axis=1)
        rest = n_missing > 1
        if rest.any():
            out[rest] = self.engine.log_prob(codes[rest], point=True)
        return out

    def _surprise(self, codes: NDArray[np.signedinteger]) -> tuple[float, float]:
        """Posterior-predictive p-value of the mean ``log P(record)``, and that mean."""
        n = codes.shape[0]
        if n > self.surprise_rows:
            rng = np.random.default_rng([self.seed, 7])
            codes = codes[np.sort(rng.choice(n, self.surprise_rows, replace=False))]
            n = self.surprise_rows
        mean_logp = float(np.mean(self.record_log_probs(codes)))
        mask = codes < 0
        reps = np.empty((self.replicates, *codes.shape), dtype=codes.dtype)
        for r, net_r in enumerate(self.replicate_nets):
            rep = sample_codes(net_r, n=n, seed=self.seed + 1000 + r)
            rep[mask] = -1
            reps[r] = rep
        # every replicate's records in one pass (one engine call for the incomplete ones)
        rep_lp = self.record_log_probs(reps.reshape(-1, codes.shape[1]))
        rep_means = rep_lp.reshape(self.replicates, n).mean(axis=1)
        # the mean of many records is close to normal: a continuous tail probability from
        # the replicates' mean and spread (a rank could not go below 1/(replicates+1))
        spread = max(float(rep_means.std(ddof=1)), 1e-12)
        return float(norm.cdf((mean_logp - rep_means.mean()) / spread)), mean_logp

    def check(self, batch: pd.DataFrame) -> DriftReport:
        """Compare a new batch of records with the reference; see :func:`drift`."""
        if not isinstance(batch, pd.DataFrame) or len(batch) == 0:
            raise BNError("the new batch must be a non-empty DataFrame of records.")
        th, s = self.thresholds, self.post.structure
        from bnlab.schema import bin_numeric_columns, schema_of

        data_schema = schema_of(self.post)
        out_of_range: dict[str, int] = {}
        if data_schema is not None:  # the model's own bins turn raw numbers into states
            batch, out_of_range = bin_numeric_columns(data_schema, batch)
        codes, quality = encode_batch(batch, s)
        if data_schema is not None:
            quality["out_of_range"] = [out_of_range.get(v, 0) for v in quality["variable"]]

        fam = family_scores(codes, self.post, self.family_alpha, prior=1.0)
        fam["drifted"] = fam["score"] > th["family_log_bf"]
        fam = fam.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)

        marg_rows = []
        for j, v in enumerate(s.variables):
            col = codes[:, j]
            counts = np.bincount(col[col >= 0], minlength=s.cards[v]).astype(np.float64)
            score = dirichlet_multinomial_logml(counts, np.ones_like(counts))
            score = score - dirichlet_multinomial_logml(counts, self.marginal_alpha[v])
            marg_rows.append({"variable": v, "score": float(score), "rows": int(counts.sum())})
        marg = pd.DataFrame(marg_rows)
        marg["shifted"] = marg["score"] > th["marginal_log_bf"]

        surprise, mean_logp = self._surprise(codes)

        reasons = [
            f"family {r.variable} changed (log BF {r.score:.1f})"
            for r in fam.itertuples()
            if r.drifted
        ]
        reasons += [
            f"marginal of {r.variable} shifted (log BF {r.score:.1f})"
            for r in marg.itertuples()
            if r.shifted
        ]
        if surprise < th["surprise_alpha"]:
            reasons.append(f"the batch is surprising under the model (ppp {surprise:.3g})")
        for r in quality.itertuples():
            if r.unknown_rate > th["unknown_rate"]:
                reasons.append(
                    f"{r.variable}: {r.unknown_rate:.1%} unknown states {r.unknown_values}"
                )
            if r.missing_rate > th["missing_rate"]:
                reasons.append(f"{r.variable}: {r.missing_rate:.0%} missing")
        return DriftReport(
            alert=bool(reasons),
            families=fam,
            marginals=marg,
            surprise=surprise,
            mean_log_prob=mean_logp,
            quality=quality,
            thresholds=th,
            reasons=reasons,
        )


def drift(
    post: Posterior,
    batch: pd.DataFrame,
    *,
    thresholds: Mapping[str, float] | None = None,
    replicates: int = 30,
    draws: int = 200,
    seed: int = 0,
    surprise_rows: int = SURPRISE_ROWS,
) -> DriftReport:
    """Compare a new batch of records with the reference posterior.

    For many batches build a :class:`Monitor` once and call ``check`` on each.

    Parameters
    ----------
    post
        The reference posterior (exported with the model).
    batch
        New records: one column per variable (missing columns count as all missing).
    thresholds, replicates, draws, seed, surprise_rows
        As for :class:`Monitor`.

    Returns
    -------
    DriftReport
    """
    monitor = Monitor(
        post,
        thresholds=thresholds,
        replicates=replicates,
        draws=draws,
        seed=seed,
        surprise_rows=surprise_rows,
    )
    return monitor.check(batch)
