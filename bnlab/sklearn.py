"""A scikit-learn classifier whose probabilities carry the posterior of the network's CPTs.

:class:`BNClassifier` takes raw columns (numbers, text, bool, Categorical; NaN = missing),
infers a :class:`bnlab.Schema` on the training rows inside :meth:`BNClassifier.fit` (so in a
``Pipeline`` or ``cross_val_score`` every fold bins its own training rows: no leakage), builds
a naive Bayes, TAN, Chow-Liu or score-learned structure with the class as a variable, and
fits the conjugate Dirichlet posterior of every CPT.

Predictions: for a row whose features are all observed, ``P(class, x)`` is the product of
one CPT entry per family, and under independent Dirichlet posteriors the posterior
predictive of that product is the product of the posterior means, exactly; so those rows
cost a few array look-ups. Rows with missing (or unseen, see ``unseen``) values are answered
by the exact engine. :meth:`BNClassifier.predict_proba_interval` gives credible bands from
CPT draws.

Requires the ``sklearn`` extra (``uv sync --extra sklearn``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from bnlab.errors import BNError
from bnlab.network import Structure
from bnlab.schema import Schema, infer_schema

STRUCTURES = ("naive_bayes", "tan", "chow_liu", "learned")


class BNClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Bayesian-network classifier on raw columns, with posterior credible bands.

    Parameters
    ----------
    structure
        ``"naive_bayes"``, ``"tan"`` (tree-augmented naive Bayes), ``"chow_liu"`` (maximum
        mutual-information tree over features and class, rooted at the class) or
        ``"learned"`` (score-based search over the joint, from the empty graph and from
        naive Bayes, the graph of lower leave-one-out class log loss kept; see
        :func:`bnlab.learn_structure`).
    prior, ess
        Dirichlet prior of the CPTs (see :func:`bnlab.fit`). ``ess="auto"`` (the default)
        picks BDeu's equivalent sample size from 1 to 1,000 by the exact leave-one-out
        log loss of the class on the training rows (:func:`bnlab.evaluate.loo.best_ess`; a
        closed form, no refits): the data decide how strongly to smooth. ``"k2"`` and
        ``"uniform"`` priors have no ESS.
    max_states
        Most distinct values a column keeps as states; numeric columns above it are binned.
    discretize
        Binning of numeric columns: ``"quantile"``, ``"uniform"``, ``"kmeans"``, ``"mdlp"``
        (supervised by the class).
    n_bins
        Bins per numeric column (not for ``"mdlp"``).
    structure_score
        Score of the ``"learned"`` structure (``"bic"``, ``"bdeu"``, ...).
    draws
        CPT draws behind :meth:`predict_proba_interval`.
    seed
        Seed of the draws.
    unseen
        A value at prediction time that is not a state of its column: ``"missing"`` (treat
        it as unobserved) or ``"error"`` (raise :class:`bnlab.schema.UnseenCategoryError`).

    Attributes
    ----------
    classes_
        Class labels, in the order of :meth:`predict_proba`'s columns.
    schema_
        The fitted :class:`bnlab.Schema` (features and the class).
    posterior_
        The fitted :class:`bnlab.Posterior` (its ``attrs["schema"]`` holds the schema).
    structure_
        The network structure.
    ess_
        The equivalent sample size fitted with (``ess``, or the one ``"auto"`` chose).
    loo_log_loss_
        ``ess="auto"`` only: the leave-one-out log loss of every ESS tried
        (:data:`bnlab.evaluate.loo.ESS_GRID`).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = BNClassifier(structure="tan").fit(X, y)
    >>> lo, hi = clf.predict_proba_interval(X[:2], interval=0.9)
    """

    def __init__(
        self,
        structure: str = "naive_bayes",
        prior: str = "bdeu",
        ess: float | str = "auto",
        max_states: int = 20,
        discretize: str = "quantile",
        n_bins: int = 5,
        structure_score: str = "bic",
        draws: int = 200,
        seed: int = 0,
        unseen: str = "missing",
    ) -> None:
        self.structure = structure
        self.prior = prior
        self.ess = ess
        self.max_states = max_states
        self.discretize = discretize
        self.n_bins = n_bins
        self.structure_score = structure_score
        self.draws = draws
        self.seed = seed
        self.unseen = unseen

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags

    # -- input -------------------------------------------------------------------------
    def _frame(self, X: Any, reset: bool) -> pd.DataFrame:
        """Raw feature frame with column names ``feature_names_in_`` or ``x0, x1, ...``."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[1] == 0 or X.shape[0] == 0:
                check_array(np.empty(X.shape), ensure_all_finite=False)  # sklearn's message
            frame = X.copy()
            frame.columns = [str(c) for c in X.columns]
            numeric = frame.select_dtypes(include="number")
            if numeric.size and np.isinf(numeric.to_numpy(dtype=np.float64)).any():
                raise ValueError("Input X contains infinity; replace it or mark it missing.")
            return frame.reset_index(drop=True)
        arr = check_array(X, dtype=None, ensure_all_finite="allow-nan")
        validate_data(self, arr, reset=reset, skip_check_array=True)
        frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
        for c in frame.columns:
            if frame[c].dtype.kind == "O":
                numbers = pd.to_numeric(frame[c], errors="coerce")
                if numbers.notna().sum() == frame[c].notna().sum():
                    frame[c] = numbers
                else:  # text, or any other objects: their text is the state
                    frame[c] = frame[c].map(lambda v: v if v is None or v != v else str(v))
        return frame

    def _target_name(self, columns: list[str]) -> str:
        name = "class"
        while name in columns:
            name = f"_{name}"
        return name

    # -- fit ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> BNClassifier:
        """Infer the schema on ``X``, build the structure, fit the CPT posterior.

        Parameters
        ----------
        X
            Raw features: a DataFrame or an array ``(rows, features)``; NaN = missing.
        y
            Class labels.

        Returns
        -------
        BNClassifier
            ``self``.
        """
        from bnlab.fitting import fit as fit_posterior
        from bnlab.learn.trees import classifier_parents

        if self.structure not in STRUCTURES:
            raise BNError(
                f"structure={self.structure!r} is not one of {list(STRUCTURES)}; pick one."
            )
        if isinstance(self.ess, str) and self.ess != "auto":
            raise BNError(f"ess={self.ess!r}: give a positive number or 'auto'.")
        frame = self._frame(X, reset=True)
        y = column_or_1d(y, warn=True)
        if len(y) != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {len(y)}; give one label per row.")
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        target = self._target_name(list(frame.columns))
        frame[target] = y_idx
        declared = {target: {"states": list(range(len(self.classes_)))}}
        self.schema_ = infer_schema(
            frame,
            target=target,
            max_states=self.max_states,
            discretize=self.discretize,
            bins=self.n_bins,
            declared=declared,
            identifiers="keep",
        )
        self.target_ = target
        codes, _, _ = self.schema_.encode_codes(frame)
        names = list(self.schema_.variables)
        cards = [len(self.schema_.states[n]) for n in names]
        t = names.index(target)
        if self.structure == "learned":
            parents, (self.ess_, losses) = self._learned_parents(codes, cards, names, t)
        else:
            parents = classifier_parents(codes, names, target, self.structure)
            self.ess_, losses = self._choose_ess(codes, cards, _columns(parents, names), t)
        # Structure orders variables topologically: codes follow that order
        self.structure_ = Structure(names, self.schema_.states, parents)
        if losses is not None:
            self.loo_log_loss_ = losses
        else:  # a refit with a fixed ESS keeps no losses of an earlier "auto" fit
            self.__dict__.pop("loo_log_loss_", None)
        order = [names.index(v) for v in self.structure_.variables]
        self.posterior_ = fit_posterior(
            self.structure_, codes[:, order], prior=self.prior, ess=self.ess_
        )
        self.posterior_.attrs["schema"] = self.schema_.to_dict()
        self.posterior_.attrs["target"] = target
        self._mean_cpts = {v: np.asarray(c) for v, c in self.posterior_.mean().cpts.items()}
        return self

    def _learned_parents(
        self, codes: NDArray[np.integer], cards: list[int], names: list[str], target: int
    ) -> tuple[dict[str, tuple[str, ...]], tuple[float, NDArray[np.float64] | None]]:
        """Score-learned parents, from two starts kept by leave-one-out loss, and their ESS.

        Both searches maximise ``structure_score`` over the joint distribution, one from
        the empty graph (hill climbing from it and from the Chow-Liu tree, the better kept)
        and one from naive Bayes (the class a parent of every feature; hill climbing, then
        tabu search). The class's log loss depends only on
        its Markov blanket, which a search from the empty graph often leaves at one or two
        features among many weakly informative ones; the start from naive Bayes reaches
        optima that keep more. The graph of lower exact leave-one-out class log loss (each
        at the ESS it would be fitted with) is kept; a tie keeps the empty start. The two
        searches share one scorer, so a family both visit is counted once.

        Returns
        -------
        tuple
            ``(parents by name, (ess, leave-one-out losses or None))``.
        """
        from bnlab.evaluate.loo import loo_log_loss
        from bnlab.learn.core import counting_engine
        from bnlab.learn.scores import FamilyScorer, check_score
        from bnlab.learn.search import greedy_search

        score = check_score(self.structure_score, 1.0)
        scorer = FamilyScorer(codes, cards, score, 1.0, engine=counting_engine(codes.shape))
        k = len(names)
        allowed = ~np.eye(k, dtype=np.bool_)
        required = np.zeros((k, k), dtype=np.bool_)
        empty: list[tuple[int, ...]] = [() for _ in names]
        naive_bayes: list[tuple[int, ...]] = [() if j == target else (target,) for j in range(k)]
        best: tuple[float, tuple[tuple[int, ...], ...], tuple[float, Any]] | None = None
        # from the empty graph: hill climbing, then again from the Chow-Liu tree (the better
        # kept); from naive Bayes: hill climbing, then tabu search (tabu search from the
        # empty graph, or a tree completion of naive Bayes, changed no mean log loss of the
        # benchmark's three data sets and doubled the time on small ones)
        for start, tabu_length, tree_start in ((empty, 0, True), (naive_bayes, 10, False)):
            found = greedy_search(
                scorer, allowed=allowed, required=required, start=start,
                tabu_length=tabu_length, tree_start=tree_start,
            )  # fmt: skip
            by_column = dict(enumerate(found.parents))
            ess, losses = self._choose_ess(codes, cards, by_column, target)
            if losses is not None:
                loss = float(losses.min())
            elif len(codes) < 2:
                loss = 0.0  # one row: nothing to leave out, the first start stays
            else:  # a given ESS; K2 and uniform priors are judged by BDeu's, ESS 1
                yardstick = ess if self.prior == "bdeu" else 1.0
                loss = float(loo_log_loss(codes, cards, by_column, target, [yardstick])[0])
            if best is None or loss < best[0]:
                best = (loss, found.parents, (ess, losses))
        assert best is not None
        parents = {names[j]: tuple(names[i] for i in ps) for j, ps in enumerate(best[1])}
        return parents, best[2]

    def _choose_ess(
        self,
        codes: NDArray[np.integer],
        cards: list[int],
        by_column: Mapping[int, Sequence[int]],
        target: int,
    ) -> tuple[float, NDArray[np.float64] | None]:
        """``(ess, leave-one-out losses)``: as given, or the ``"auto"`` choice.

        For ``"auto"``, the ESS of least leave-one-out class log loss of the graph
        ``by_column`` (parent columns of every column of ``codes``); the losses are ``None``
        for a given ESS.
        """
        if not isinstance(self.ess, str):
            return float(self.ess), None
        if self.prior != "bdeu" or len(codes) < 2:
            return 1.0, None  # a K2 or uniform prior has no ESS; one row: nothing to leave out
        from bnlab.evaluate.loo import best_ess

        return best_ess(codes, cards, by_column, target)

    # -- pickling (sklearn's convention for estimators; bnlab's own files never pickle) --
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if "posterior_" in state:
            import tempfile
            from pathlib import Path

            from bnlab.io.json_format import structure_to_dict

            with tempfile.TemporaryDirectory() as tmp:
                path = self.posterior_.save(Path(tmp) / "posterior.nc")
                state["posterior_"] = path.read_bytes()
            state["structure_"] = structure_to_dict(self.structure_)
            state["schema_"] = self.schema_.to_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("posterior_"), bytes):
            import tempfile
            from pathlib import Path

            from bnlab.io.json_format import structure_from_dict
            from bnlab.posterior import load_posterior

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "posterior.nc"
                path.write_bytes(state["posterior_"])
                state["posterior_"] = load_posterior(path)
            state["structure_"] = structure_from_dict(state["structure_"], "<pickle>")
            state["schema_"] = Schema.from_dict(state["schema_"])
        self.__dict__.update(state)

    # -- predict -----------------------------------------------------------------------
    def _codes(self, X: Any) -> NDArray[np.int64]:
        """Feature codes ``(rows, variables)`` in structure order; class column -1."""
        check_is_fitted(self, "posterior_")
        frame = self._frame(X, reset=False)
        frame = frame.drop(columns=[self.target_], errors="ignore")
        # out-of-range numbers go to the edge bins without a warning: in cross-validation
        # every fold meets values beyond its own training range
        codes, _, _ = self.schema_.encode_codes(
            frame, partial=True, unseen="nan" if self.unseen == "missing" else "raise"
        )
        names = list(self.schema_.variables)
        return codes[:, [names.index(v) for v in self.structure_.variables]]

    def _log_joint(
        self, codes: NDArray[np.int64], cpts: dict[str, NDArray[Any]], draw_axis: bool
    ) -> NDArray[np.float64]:
        """``log P(class = c, x)`` per row and class (complete rows), ``(..., rows, classes)``."""
        s = self.structure_
        t = s.index[self.target_]
        n_classes = s.cards[self.target_]
        parts = []
        for c in range(n_classes):
            row_codes = codes.copy()
            row_codes[:, t] = c
            total: NDArray[np.float64] = np.zeros(
                (next(iter(cpts.values())).shape[0], len(codes)) if draw_axis else len(codes)
            )
            for v in s.variables:
                idx = tuple(row_codes[:, s.index[p]] for p in s.parents[v])
                index: tuple[Any, ...] = (*idx, row_codes[:, s.index[v]])
                entry = cpts[v][(slice(None), *index)] if draw_axis else cpts[v][index]
                total = total + np.log(entry)
            parts.append(total)
        return np.stack(parts, axis=-1)

    def _complete(self, codes: NDArray[np.int64]) -> NDArray[np.bool_]:
        t = self.structure_.index[self.target_]
        observed = np.delete(codes, t, axis=1) >= 0
        return np.asarray(observed.all(axis=1))

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Posterior predictive ``P(class | x)``, columns in ``classes_`` order."""
        codes = self._codes(X)
        complete = self._complete(codes)
        out = np.empty((len(codes), len(self.classes_)))
        if complete.any():
            lj = self._log_joint(codes[complete], self._mean_cpts, draw_axis=False)
            lj -= lj.max(axis=1, keepdims=True)
            p = np.exp(lj)
            out[complete] = p / p.sum(axis=1, keepdims=True)
        if (~complete).any():
            from bnlab.infer import Engine

            engine = Engine(self.posterior_.mean())
            evidence = codes[~complete].copy()
            out[~complete] = np.asarray(engine.marginals(evidence.astype(np.int32))[self.target_])
        return out

    def predict(self, X: Any) -> NDArray[Any]:
        """Most probable class of each row."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def predict_proba_interval(
        self, X: Any, interval: float = 0.9
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Equal-tailed credible band of ``P(class | x)`` over CPT posterior draws.

        Parameters
        ----------
        X
            Raw features.
        interval
            Probability mass of the band.

        Returns
        -------
        tuple of numpy.ndarray
            ``(lower, upper)``, each ``(rows, classes)``.
        """
        if not 0.0 < float(interval) < 1.0:
            raise BNError(f"interval must lie in (0, 1), got {interval!r}.")
        codes = self._codes(X)
        complete = self._complete(codes)
        per_draw = np.empty((int(self.draws), len(codes), len(self.classes_)))
        if complete.any():
            draws = self.posterior_.draws(int(self.draws), seed=int(self.seed))
            lj = self._log_joint(codes[complete], draws, draw_axis=True)
            lj -= lj.max(axis=-1, keepdims=True)
            p = np.exp(lj)
            per_draw[:, complete] = p / p.sum(axis=-1, keepdims=True)
        if (~complete).any():
            from bnlab.infer import Engine

            engine = Engine(self.posterior_, draws=int(self.draws), seed=int(self.seed))
            evidence = codes[~complete].astype(np.int32)
            per_draw[:, ~complete] = np.asarray(engine.marginals(evidence)[self.target_])
        tail = (1.0 - float(interval)) / 2.0
        lower, upper = np.quantile(per_draw, [tail, 1.0 - tail], axis=0)
        return lower, upper


__all__ = ["STRUCTURES", "BNClassifier", "Schema"]


def _columns(parents: Mapping[str, Sequence[str]], names: list[str]) -> dict[int, list[int]]:
    """Parent columns of every column, from parents by name (columns in ``names`` order)."""
    idx = {n: i for i, n in enumerate(names)}
    return {idx[v]: [idx[p] for p in ps] for v, ps in parents.items()}
