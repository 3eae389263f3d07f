"""BNClassifier against pyAgrum's BNClassifier and scikit-learn, 5-fold cross-validated.

Usage::

    uv run python benchmarks/classifier.py [--folds 5] [--repeats 5]
        [--datasets breast_cancer,wine,iris]

Datasets are the ones scikit-learn ships inside its wheel (``sklearn.datasets.load_*``: no
download). Every model sees the same stratified folds, the 5-fold split repeated with
``--repeats`` shuffles (on 150-570 rows one split's mean log loss moves by more than the
differences between the models); numeric columns are discretized inside
``fit`` on the training fold only (5 quantile bins for bnlab and pyAgrum, CategoricalNB on
the same quantile bins fitted per fold by a ``KBinsDiscretizer``; the gradient-boosting model
takes the raw numbers). Per dataset and model: mean log loss, macro one-vs-rest AUC and mean
fit seconds over the folds; then, per structure, bnlab's log-loss difference (with the
standard error of the mean of its per-fold values) and fit-time ratio against pyAgrum with
the same structure (targets: difference <= 0, ratio <= 1).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# one OpenMP thread: on a shared 2-core machine HistGradientBoosting's threads otherwise spin
# against the other processes (minutes per fit instead of a fraction of a second)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.naive_bayes import CategoricalNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import KBinsDiscretizer

from bnlab.sklearn import BNClassifier

BINS = 5
#: bnlab structure -> pyAgrum learningMethod
PYAGRUM = {"naive_bayes": "NaiveBayes", "tan": "TAN", "learned": "GHC"}


def load(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True, as_frame=True)
    X.columns = [str(c).replace(" ", "_").replace("(", "").replace(")", "") for c in X.columns]
    return X, np.asarray(y)


def pyagrum_model(method: str) -> Any:
    from pyagrum.skbn import createBNClassifier

    return createBNClassifier(learningMethod=method, prior="BDeu", priorWeight=1.0,
                              scoringType="BIC", discretizationStrategy="quantile",
                              discretizationNbBins=BINS, discretizationThreshold=BINS)  # fmt: skip


def models() -> dict[str, Callable[[], Any]]:
    out: dict[str, Callable[[], Any]] = {}
    for s in ("naive_bayes", "tan", "learned"):
        out[f"bnlab {s}"] = lambda s=s: BNClassifier(structure=s, n_bins=BINS, draws=1)
        out[f"pyAgrum {PYAGRUM[s]}"] = lambda m=PYAGRUM[s]: pyagrum_model(m)
    out["sklearn CategoricalNB"] = lambda: make_pipeline(
        KBinsDiscretizer(n_bins=BINS, encode="ordinal", strategy="quantile",
                         quantile_method="averaged_inverted_cdf"),
        CategoricalNB(min_categories=BINS),
    )  # fmt: skip
    out["sklearn HistGradientBoosting"] = lambda: HistGradientBoostingClassifier(random_state=0)
    return out


def proba_of(model: Any, X: pd.DataFrame, classes: np.ndarray) -> np.ndarray:
    p = np.asarray(model.predict_proba(X), dtype=np.float64)
    fitted = np.asarray(getattr(model, "classes_", classes))
    out = np.zeros((len(X), len(classes)))
    for j, c in enumerate(fitted):
        out[:, list(classes).index(c)] = p[:, j]
    out = np.clip(out, 1e-15, 1.0)
    return out / out.sum(axis=1, keepdims=True)


def evaluate(name: str, folds: int, repeats: int) -> pd.DataFrame:
    X, y = load(name)
    classes = np.unique(y)
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=0)
    split = list(cv.split(X, y))
    rows = []
    for label, make in models().items():
        losses, aucs, fits = [], [], []
        for train, test in split:
            model = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                model.fit(X.iloc[train], y[train])
                fits.append(time.perf_counter() - t0)
                p = proba_of(model, X.iloc[test], classes)
            losses.append(log_loss(y[test], p, labels=classes))
            aucs.append(
                roc_auc_score(y[test], p[:, 1]) if len(classes) == 2
                else roc_auc_score(y[test], p, multi_class="ovr", labels=classes)
            )  # fmt: skip
        rows.append({"dataset": name, "model": label, "log_loss": np.mean(losses),
                     "auc": np.mean(aucs), "fit_s": np.mean(fits),
                     "fold_losses": np.asarray(losses)})  # fmt: skip
        print(f"  {name:14s} {label:30s} log loss {np.mean(losses):.4f}  AUC {np.mean(aucs):.4f}"
              f"  fit {np.mean(fits) * 1000:8.1f} ms", flush=True)  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--datasets", default="breast_cancer,wine,iris")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    # warm-up: the first BNClassifier fit in a process imports bnlab's fitting modules
    Xw, yw = load("iris")
    BNClassifier(structure="learned").fit(Xw, yw).predict_proba(Xw)
    frames = [evaluate(name, args.folds, args.repeats) for name in args.datasets.split(",")]
    table = pd.concat(frames, ignore_index=True)
    print()
    print("bnlab vs pyAgrum, same structure (log-loss difference <= 0 and fit ratio <= 1 meet "
          "the targets):")  # fmt: skip
    for name in args.datasets.split(","):
        t = table[table.dataset == name].set_index("model")
        for s, m in PYAGRUM.items():
            a, b = t.loc[f"bnlab {s}"], t.loc[f"pyAgrum {m}"]
            diff = a.fold_losses - b.fold_losses
            se = diff.std(ddof=1) / np.sqrt(len(diff))
            print(f"  {name:14s} {s:12s} log loss {a.log_loss:.4f} vs {b.log_loss:.4f} "
                  f"(diff {diff.mean():+.4f} +- {se:.4f})   fit {a.fit_s * 1000:.1f} ms vs "
                  f"{b.fit_s * 1000:.1f} ms (ratio {a.fit_s / b.fit_s:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
