"""Vectorised forward (ancestral) sampling from a BayesNet, with optional MCAR missingness.

Variables are drawn in topological order. For each one, the rows' parent configurations are
turned into one flat index per row, and the state is drawn by inverse CDF with one uniform per
row: ``state = #{k < card - 1 : cdf[config, k] <= u}``. The loop runs over the (few) states of
the variable, never over rows. The CDF rows are normalised by their own total, so a state of
probability zero is never drawn (its CDF entry equals the previous one exactly).

Randomness comes from ``numpy.random.default_rng``: the values use one child stream of the
seed and the missingness mask another, so ``sample(net, n, seed, missing=0.2)`` is exactly
``sample(net, n, seed)`` with cells removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.counts import flat_family_index
from bnlab.data import MISSING, code_dtype
from bnlab.errors import CPTError, DataError
from bnlab.network import BayesNet

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.schema import Schema


def _check_args(net: object, n: object, seed: object) -> int:
    if not isinstance(net, BayesNet):
        raise CPTError(
            f"sample needs a BayesNet with CPTs, got {type(net).__name__}; read one with "
            "bnlab.read_network(path) or take a fitted posterior's mean with post.mean()."
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 0:
        raise DataError(f"n must be a non-negative integer number of rows, got {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise DataError(
            f"seed must be a non-negative integer, got {seed!r}; the same seed gives the same "
            "sample."
        )
    return int(n)


def _missing_rates(net: BayesNet, missing: float | Mapping[str, float]) -> dict[str, float]:
    if isinstance(missing, Mapping):
        unknown = [v for v in missing if v not in net.states]
        if unknown:
            raise DataError(
                f"missing rates given for unknown variable(s) {unknown}; use names from "
                "net.variables."
            )
        rates = {v: missing.get(v, 0.0) for v in net.variables}
    else:
        rates = dict.fromkeys(net.variables, missing)
    for v, r in rates.items():
        if isinstance(r, bool) or not isinstance(r, (int, float, np.floating, np.integer)):
            raise DataError(f"missing rate of {v!r} must be a number in [0, 1], got {r!r}.")
        if not 0.0 <= float(r) <= 1.0:
            raise DataError(
                f"missing rate of {v!r} is {r!r}; give the share of cells to remove, in [0, 1]."
            )
    return {v: float(r) for v, r in rates.items()}


def _row_cdfs(cpt: NDArray[np.float64]) -> NDArray[np.float64]:
    """CDF of each CPT row, shape (configurations, card), last entry exactly 1."""
    card = cpt.shape[-1]
    cs = np.cumsum(cpt.reshape(-1, card), axis=1)
    # x / x == 1 exactly, so trailing zero-probability states can never be drawn
    return np.asarray(cs / cs[:, -1:], dtype=np.float64)


def sample_codes(
    net: BayesNet, n: int, seed: int = 0, *, missing: float | Mapping[str, float] = 0.0
) -> NDArray[np.signedinteger]:
    """Draw ``n`` rows as integer codes (columns in ``net.variables`` order, -1 = missing).

    Parameters and randomness are those of :func:`sample`.
    """
    n = _check_args(net, n, seed)
    rates = _missing_rates(net, missing)
    s = net.structure
    value_seq, mask_seq = np.random.SeedSequence(int(seed)).spawn(2)
    rng = np.random.default_rng(value_seq)
    codes = np.empty((n, len(s.variables)), dtype=code_dtype(max(s.cards.values())))
    state = np.empty(n, dtype=codes.dtype)
    for j, v in enumerate(s.variables):
        cdf = _row_cdfs(net.cpt(v))
        u = rng.random(n)
        ps = s.parents[v]
        state.fill(0)
        if ps:
            cols = [s.index[p] for p in ps]
            config = flat_family_index(codes, cols, [s.cards[p] for p in ps])
            for k in range(cdf.shape[1] - 1):
                state += cdf[:, k][config] <= u
        else:
            for k in range(cdf.shape[1] - 1):
                state += cdf[0, k] <= u
        codes[:, j] = state
    if any(r > 0.0 for r in rates.values()):
        mask_rng = np.random.default_rng(mask_seq)
        for j, v in enumerate(s.variables):
            if rates[v] > 0.0:
                codes[mask_rng.random(n) < rates[v], j] = MISSING
    return codes


def codes_to_frame(codes: NDArray[np.signedinteger], net: BayesNet) -> pd.DataFrame:
    """DataFrame of Categoricals from codes known to be valid (no range check, no copy)."""
    s = net.structure
    return pd.DataFrame(
        {
            v: pd.Categorical.from_codes(
                codes[:, j], categories=pd.Index(s.states[v]), validate=False
            )
            for j, v in enumerate(s.variables)
        }
    )


def sample(
    net: BayesNet,
    n: int,
    seed: int = 0,
    *,
    missing: float | Mapping[str, float] = 0.0,
    as_codes: bool = False,
    raw: bool = False,
    schema: Schema | None = None,
    numbers: Literal["uniform", "midpoint"] = "uniform",
) -> pd.DataFrame | NDArray[np.signedinteger]:
    """Forward-sample ``n`` rows from a network.

    Parameters
    ----------
    net
        The network to sample from.
    n
        Number of rows.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same rows.
    missing
        Share of cells to remove completely at random (MCAR), for every variable or as a
        mapping ``{variable: share}`` (unlisted variables stay complete).
    as_codes
        Return the integer codes (``(n, variables)``, smallest signed dtype, -1 = missing)
        instead of a DataFrame.
    raw
        Return raw-looking data: the states decoded by the network's data schema
        (:attr:`~bnlab.BayesNet.schema`, which a fitted posterior's ``mean()`` and a network
        JSON file carry) or by ``schema``; see :func:`bnlab.raw_values.decode_states`.
        Equal to ``schema.decode(sample(net, n, seed, missing=missing), numbers=numbers,
        seed=seed)``: the draws inside the bins use their own streams of ``seed``.
    schema
        The schema to decode with (implies ``raw``), for a network that does not carry one.
    numbers
        With ``raw``: a discretized column's value is a uniform draw within its bin
        (``"uniform"``) or the bin's midpoint (``"midpoint"``).

    Returns
    -------
    pandas.DataFrame or numpy.ndarray
        One Categorical column per variable (categories = states, in order; NaN = missing),
        columns in ``net.variables`` order; with ``raw``, the schema's columns in their raw
        types (numbers, text, bool, Categorical); or the codes.

    Raises
    ------
    CPTError
        If ``net`` is not a :class:`~bnlab.network.BayesNet`.
    DataError
        If ``n``, ``seed`` or ``missing`` are invalid, or ``raw`` is asked of a network
        without a schema, or together with ``as_codes``.

    Examples
    --------
    >>> df = sample(net, 1000, seed=0)  # doctest: +SKIP
    >>> raw = sample(post.mean(), 1000, raw=True)  # fitted with schema=  # doctest: +SKIP
    """
    decoder = _decoder(net, raw, schema, as_codes)
    codes = sample_codes(net, n, seed, missing=missing)
    if as_codes:
        return codes
    frame = codes_to_frame(codes, net)
    if decoder is None:
        return frame
    return decoder.decode(frame, numbers=numbers, seed=int(seed))


def _decoder(net: object, raw: bool, schema: Schema | None, as_codes: bool) -> Schema | None:
    """The schema that decodes the sample (``None``: states are returned)."""
    if not raw and schema is None:
        return None
    if as_codes:
        raise DataError("as_codes returns states as codes; it cannot be combined with raw/schema.")
    if schema is None:
        schema = getattr(net, "schema", None)
        if schema is None:
            raise DataError(
                "raw=True needs a data schema, and this network carries none; pass schema= "
                "(the bnlab.Schema it was fitted with), or fit with schema= and sample "
                "post.mean(), or read the network from the .json file written after fitting."
            )
    return schema
