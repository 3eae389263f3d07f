"""Posterior: moments against the Dirichlet formulas and draws, intervals, ArviZ, NetCDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import bnlab
from bnlab.errors import ArtifactError, CPTError, StructureError
from bnlab.network import Structure
from bnlab.posterior import Posterior, load_posterior, state_dim


def _structure() -> Structure:
    return Structure(["a", "b"], {"a": ("x", "y"), "b": ("u", "v", "w")}, {"b": ("a",)})


def _dirichlet() -> Posterior:
    return Posterior(
        _structure(),
        alpha={"a": [6.0, 5.0], "b": [[3.0, 2.0, 0.5], [2.0, 1.0, 40.0]]},
        prior="bdeu",
        ess=6.0,
        n_rows=5,
        n_dropped={"b": 1},
    )


def _mcmc(chains: int = 2, draws: int = 500) -> Posterior:
    rng = np.random.default_rng(3)
    d = {
        "a": rng.dirichlet([6.0, 5.0], size=(chains, draws)),
        "b": np.stack(
            [
                rng.dirichlet([3.0, 2.0, 0.5], size=(chains, draws)),
                rng.dirichlet([2.0, 1.0, 40.0], size=(chains, draws)),
            ],
            axis=2,
        ),
    }
    stats_ = {
        "diverging": np.zeros((chains, draws), dtype=bool),
        "step_size": rng.random((chains, draws)),
    }
    return Posterior(
        _structure(),
        draws=d,
        backend="numpyro",
        prior="bdeu",
        ess=6.0,
        sample_stats=stats_,
        attrs={"num_warmup": 100},
    )


def _dirichlet_var(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    a0 = a.sum(axis=-1, keepdims=True)
    return a * (a0 - a) / (a0**2 * (a0 + 1))


def test_mean_and_variance_equal_the_dirichlet_formulas() -> None:
    post = _dirichlet()
    mean = post.mean()
    np.testing.assert_allclose(mean.cpt("b")[1], np.array([2.0, 1.0, 40.0]) / 43.0)
    # hand value: Var(theta_a=x) = 6 * 5 / (11^2 * 12)
    assert post.var()["a"][0] == pytest.approx(30.0 / (121.0 * 12.0), rel=1e-14)
    np.testing.assert_allclose(post.var()["b"], _dirichlet_var(post.alpha["b"]), rtol=1e-14)
    np.testing.assert_allclose(post.sd()["b"], np.sqrt(_dirichlet_var(post.alpha["b"])))


def test_draws_agree_with_mean_and_variance() -> None:
    post = _dirichlet()
    n = 40_000
    d = post.draws(n, seed=1)
    assert d["b"].shape == (n, 2, 3)
    np.testing.assert_allclose(d["b"].sum(axis=-1), 1.0, atol=1e-12)
    for v in ("a", "b"):
        var = post.var()[v]
        # sampling sd of the mean is sqrt(var / n); of the variance about var * sqrt(2 / n)
        np.testing.assert_array_less(
            np.abs(d[v].mean(axis=0) - post.mean().cpt(v)), 5 * np.sqrt(var / n) + 1e-12
        )
        np.testing.assert_allclose(d[v].var(axis=0), var, rtol=5 * np.sqrt(2 / n) * 3)


def test_draws_are_seeded() -> None:
    post = _dirichlet()
    np.testing.assert_array_equal(post.draws(10, seed=4)["b"], post.draws(10, seed=4)["b"])
    assert not np.array_equal(post.draws(10, seed=4)["b"], post.draws(10, seed=5)["b"])


def test_tiny_pseudo_counts_never_give_empty_rows() -> None:
    # BDeu on a large family gives alpha << 1, where naive gamma draws underflow to 0
    s = Structure(["c"], {"c": tuple("abcd")})
    post = Posterior(s, alpha={"c": [1e-3, 2e-3, 3e-3, 4e-3]})
    d = post.draws(20_000, seed=0)["c"]
    assert np.isfinite(d).all()
    np.testing.assert_allclose(d.sum(axis=-1), 1.0)
    np.testing.assert_allclose(d.mean(axis=0), [0.1, 0.2, 0.3, 0.4], atol=0.02)


def test_equal_tailed_intervals_are_beta_quantiles() -> None:
    post = _dirichlet()
    table = post.summary(interval=0.9)
    assert list(table.columns) == [
        "variable",
        "parent_states",
        "state",
        "mean",
        "sd",
        "lower",
        "upper",
    ]
    assert len(table) == 2 + 6
    row = table[(table.variable == "b") & (table.state == "w")].iloc[1]
    assert row.parent_states == ("y",)
    assert row.lower == pytest.approx(stats.beta.ppf(0.05, 40.0, 3.0))
    assert row.upper == pytest.approx(stats.beta.ppf(0.95, 40.0, 3.0))
    assert row["mean"] == pytest.approx(40.0 / 43.0)


def _beta_params(post: Posterior, row: object) -> tuple[float, float]:
    """Beta marginal (a, b) of one summary row of a Dirichlet posterior."""
    v = row.variable  # type: ignore[attr-defined]
    s = post.structure
    parents = zip(s.parents[v], row.parent_states, strict=True)  # type: ignore[attr-defined]
    a_row = post.alpha[v][tuple(s.states[p].index(x) for p, x in parents)]
    a = float(a_row[s.states[v].index(row.state)])  # type: ignore[attr-defined]
    return a, float(a_row.sum()) - a


def test_hdi_is_the_shortest_interval() -> None:
    post = _dirichlet()
    eti = post.summary(interval=0.8, kind="eti")
    hdi = post.summary(interval=0.8, kind="hdi")
    for (_, e), (_, h) in zip(eti.iterrows(), hdi.iterrows(), strict=True):
        a, b = _beta_params(post, h)
        assert h.upper - h.lower <= e.upper - e.lower + 1e-9
        mass = stats.beta.cdf(h.upper, a, b) - stats.beta.cdf(h.lower, a, b)
        assert mass == pytest.approx(0.8, abs=1e-6)
    # brute force on a grid for one unimodal entry: b=u given a=y is Beta(2, 41); the HDI
    # is no wider than the best grid interval and has equal density at both ends
    grid = np.linspace(0, 0.3, 300_001)
    cdf = stats.beta.cdf(grid, 2.0, 41.0)
    j = np.searchsorted(cdf, cdf + 0.8)
    width = np.where(j < grid.size, grid[np.minimum(j, grid.size - 1)] - grid, np.inf)
    row = hdi[(hdi.variable == "b") & (hdi.state == "u")].iloc[1]
    assert _beta_params(post, row) == (2.0, 41.0)
    assert width.min() - 2e-6 <= row.upper - row.lower <= width.min()
    pdf = stats.beta.pdf([row.lower, row.upper], 2.0, 41.0)
    assert pdf[0] == pytest.approx(pdf[1], rel=1e-5)
    # a J-shaped marginal (alpha 0.5 < 1) has its HDI against 0
    row = hdi[(hdi.variable == "b") & (hdi.state == "w")].iloc[0]
    assert row.lower == pytest.approx(0.0, abs=1e-9)


def test_mcmc_posterior_moments_draws_and_summary() -> None:
    post = _mcmc()
    assert post.kind == "draws"
    stored = post.stored_draws["b"]
    np.testing.assert_allclose(post.mean().cpt("b"), stored.mean(axis=(0, 1)))
    np.testing.assert_allclose(post.var()["b"], stored.reshape(-1, 2, 3).var(axis=0, ddof=1))
    thin = post.draws(100, seed=0)["b"]
    assert thin.shape == (100, 2, 3)
    flat = stored.reshape(-1, 2, 3)
    # thinned draws are stored draws, distinct, in stored order
    idx = [int(np.flatnonzero((flat == x).all(axis=(1, 2)))[0]) for x in thin]
    assert idx == sorted(set(idx))
    np.testing.assert_array_equal(post.draws(100, seed=0)["b"], thin)
    assert post.draws(3000, seed=0)["a"].shape == (3000, 2)
    # summaries from draws are close to the exact Dirichlet ones
    exact = _dirichlet()
    for kind in ("eti", "hdi"):
        a, b = post.summary(0.9, kind=kind), exact.summary(0.9, kind=kind)
        np.testing.assert_allclose(a[["lower", "upper"]], b[["lower", "upper"]], atol=0.06)
    with pytest.raises(CPTError, match="holds MCMC draws"):
        _ = post.alpha
    with pytest.raises(CPTError, match="closed-form Dirichlet"):
        _ = exact.stored_draws


def test_to_arviz_has_labelled_dims_and_works_with_arviz_summary() -> None:
    import arviz as az

    post = _dirichlet()
    tree = post.to_arviz(n_draws=400, seed=0)
    ds = tree["posterior"].dataset
    assert ds["b"].dims == ("chain", "draw", "a_state", "b_state")
    assert list(ds["a_state"].values) == ["x", "y"]
    assert ds.sizes["chain"] == 4 and ds.sizes["draw"] == 100
    table = az.summary(tree)
    assert "b[x, u]" in table.index
    assert len(table) == 2 + 6
    mcmc = _mcmc().to_arviz()
    assert "sample_stats" in mcmc.children
    assert mcmc["posterior"].dataset.sizes["chain"] == 2
    assert az.summary(mcmc, var_names=["a"]).shape[0] == 2


def test_labelled_form_refuses_a_dimension_name_clash() -> None:
    s = Structure(["x", "x_state"], {"x": ("0", "1"), "x_state": ("0", "1")})
    post = Posterior(s, alpha={"x": [1.0, 1.0], "x_state": [1.0, 1.0]})
    with pytest.raises(StructureError, match=r"\['x_state'\] clash"):
        post.to_arviz()
    assert state_dim("x") == "x_state"
    s = Structure(["chain"], {"chain": ("0", "1")})
    with pytest.raises(StructureError, match=r"\['chain'\] are reserved"):
        Posterior(s, alpha={"chain": [1.0, 1.0]}).to_arviz()


@pytest.mark.parametrize("make", [_dirichlet, _mcmc])
def test_netcdf_round_trip(tmp_path: Path, make: object) -> None:
    post = make()  # type: ignore[operator]
    path = post.save(tmp_path / "sub" / "post.nc")
    back = load_posterior(path)
    assert back.kind == post.kind and back.structure == post.structure
    for v in post.variables:
        np.testing.assert_array_equal(back.mean().cpt(v), post.mean().cpt(v))
    assert (back.prior, back.ess, back.backend, back.n_rows) == (
        post.prior,
        post.ess,
        post.backend,
        post.n_rows,
    )
    assert back.n_dropped == post.n_dropped and back.attrs == post.attrs
    if post.sample_stats is not None:
        xr.testing.assert_equal(back.sample_stats, post.sample_stats)
    assert [p.name for p in path.parent.iterdir()] == ["post.nc"]  # no temp file left


def _tamper(tmp_path: Path, change: object) -> Path:
    ds = _dirichlet().to_dataset()
    ds = change(ds)  # type: ignore[operator]
    path = tmp_path / "bad.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    return path


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            lambda ds: ds.assign(b=ds["b"].where(ds["b"] != 40.0)),
            r"must be finite and > 0, found nan",
        ),
        (lambda ds: ds.assign(a=-ds["a"]), r"must be finite and > 0, found -6"),
        (lambda ds: ds.assign_attrs(format_version=99), "format version 99 is not supported"),
        (lambda ds: ds.assign_attrs(format="other"), "format attribute is 'other'"),
        (lambda ds: ds.drop_vars("a"), "no parameters for variable 'a'"),
        (lambda ds: ds.assign_attrs(kind="weird"), "kind 'weird'"),
        (
            lambda ds: ds.assign_attrs(structure="{not json"),
            "structure or metadata attribute is invalid",
        ),
        (lambda ds: ds.assign_coords(b_state=["u", "w", "v"]), r"labels of dimension 'b_state'"),
        (
            lambda ds: ds.isel(b_state=[0, 1]).assign_coords(b_state=["u", "v"]),
            "labels of dimension",
        ),
        (lambda ds: ds.rename({"a_state": "zz"}), r"dims \('zz',\)"),
    ],
)
def test_tampered_files_are_refused(tmp_path: Path, change: object, match: str) -> None:
    path = _tamper(tmp_path, change)
    with pytest.raises(ArtifactError, match=match):
        load_posterior(path)


def test_missing_and_non_netcdf_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no such posterior file"):
        load_posterior(tmp_path / "nope.nc")
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"\x80\x04pickle? no")
    with pytest.raises(ArtifactError, match="cannot be read as NetCDF"):
        load_posterior(junk)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "give exactly one of"),
        ({"alpha": {"a": [1.0, 1.0]}}, "no Dirichlet parameters for 'b'"),
        ({"alpha": {"a": [1.0, 0.0], "b": np.ones((2, 3))}}, r"found 0.0 at index \(1,\)"),
        ({"alpha": {"a": [1.0, 1.0, 1.0], "b": np.ones((2, 3))}}, r"shape \(3,\), expected \(2,\)"),
        (
            {"draws": {"a": np.full((1, 2, 2), 0.4), "b": np.full((1, 2, 2, 3), 1 / 3)}},
            "rows summing to 0.8",
        ),
        (
            {"draws": {"a": np.full((1, 2, 2), 0.5), "b": np.full((1, 3, 2, 3), 1 / 3)}},
            "same chains and draws",
        ),
        (
            {"draws": {"a": np.full((2, 2), 0.5), "b": np.full((1, 2, 2, 3), 1 / 3)}},
            r"expected \(chain, draw",
        ),
    ],
)
def test_invalid_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(CPTError, match=match):
        Posterior(_structure(), **kwargs)  # type: ignore[arg-type]


def test_bad_summary_and_draw_arguments() -> None:
    post = _dirichlet()
    with pytest.raises(CPTError, match="interval must lie strictly between 0 and 1"):
        post.summary(interval=1.0)
    with pytest.raises(CPTError, match="kind must be 'eti' or 'hdi'"):
        post.summary(kind="mode")  # type: ignore[arg-type]
    with pytest.raises(CPTError, match="n must be a positive integer"):
        post.draws(0)


def test_fit_on_alarm_round_trips(tmp_path: Path) -> None:
    net = bnlab.load_example("alarm")
    post = bnlab.fit(net, bnlab.sample(net, 5000, seed=0, missing=0.01), ess=1.0)
    back = load_posterior(post.save(tmp_path / "alarm.nc"))
    for v in net.variables:
        np.testing.assert_array_equal(back.alpha[v], post.alpha[v])
    assert back.n_dropped == post.n_dropped and max(post.n_dropped.values()) > 0
    table = post.summary()
    assert len(table) == sum(np.prod(net.cpt(v).shape) for v in net.variables)
    # (with pseudo-counts << 1 a mean can lie outside its 90% ETI: the Beta is that skewed)
    assert (table.lower >= 0).all() and (table.lower <= table.upper).all()
    assert (table.upper <= 1).all()


def test_tampered_draws_file_is_refused(tmp_path: Path) -> None:
    ds = _mcmc().to_dataset()
    ds = ds.assign(b=ds["b"] * 2.0)  # rows no longer sum to one
    path = tmp_path / "bad-draws.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ArtifactError, match=r"CPT draws of 'b' have rows summing to 2.*not 1"):
        load_posterior(path)


def test_tiny_pseudo_counts_never_give_exact_zeros() -> None:
    # with alpha ~1e-3, most entries of a draw are below 1e-308; none may be exactly 0, or
    # evidence the posterior allows would be impossible under that draw
    s = Structure(["c"], {"c": tuple("abcd")})
    post = Posterior(s, alpha={"c": [1e-3, 2e-3, 3e-3, 4e-3]})
    d = post.draws(2_000, seed=0)["c"]
    assert (d > 0).all()
    assert (d < 1e-300).mean() > 0.1  # the case that underflowed before


def test_posterior_queries_survive_draws_that_underflow() -> None:
    s = Structure(["c", "x"], {"c": tuple("ab"), "x": ("0", "1")}, {"x": ["c"]})
    post = Posterior(s, alpha={"c": [1e-3, 1e-3], "x": [[5.0, 5.0], [5.0, 5.0]]})
    for dtype in (np.float32, np.float64):
        eng = bnlab.Engine(post, draws=500, seed=0, dtype=dtype)
        ans = eng.query("x", [{"c": "a"}, {"c": "b"}], interval=0.9)
        assert np.isfinite(ans["mean"].to_numpy()).all()
        np.testing.assert_allclose(ans["mean"].to_numpy(), 0.5, atol=0.05)


def test_every_flipped_byte_is_refused_before_parsing(tmp_path: Path) -> None:
    """A posterior file carries the SHA-256 of its bytes: any one flipped byte is a typed
    error, wherever it lands (data, HDF5 header, attributes, the checksum line itself)."""
    path = tmp_path / "post.nc"
    _dirichlet().save(path)
    good = path.read_bytes()
    assert good.rsplit(b"\n", 2)[-2].startswith(b"bnlab-sha256:")
    rng = np.random.default_rng(0)
    positions = [0, 8, len(good) // 2, len(good) - 70, len(good) - 2]
    positions += rng.integers(0, len(good), size=40).tolist()
    for pos in positions:
        bad = bytearray(good)
        bad[pos] ^= 0xFF
        path.write_bytes(bytes(bad))
        with pytest.raises(ArtifactError, match="checksum|SHA-256|NetCDF"):
            load_posterior(path)
    path.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(ArtifactError):
        load_posterior(path)


def test_a_file_without_the_checksum_line_still_loads(tmp_path: Path) -> None:
    """Files written before the checksum existed (plain NetCDF) load as before."""
    path = tmp_path / "post.nc"
    post = _dirichlet()
    post.save(path)
    content = path.read_bytes()
    path.write_bytes(content[: content.rindex(b"\nbnlab-sha256:")])
    again = load_posterior(path)
    for v in post.structure.variables:
        np.testing.assert_array_equal(again.alpha[v], post.alpha[v])
