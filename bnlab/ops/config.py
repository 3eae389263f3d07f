"""Typed schema of an experiment's configuration, validated before any work starts.

``conf/`` (Hydra) composes into a plain mapping; :func:`validate` merges it onto the
dataclasses below (an unknown key or a wrong type fails at once), then checks what types
cannot say: positive row counts, known backends and priors, files that exist, an acyclic
expert graph, targets that are variables. Every failure is a :class:`~bnlab.errors.ConfigError`
naming the key, the bad value and the fix.

The same schema serves the Hydra app (``bnlab-experiment``) and the DVC stages (which read
the composed ``params.yaml``), so both refuse the same bad configurations.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bnlab.errors import ConfigError

#: Names accepted by each choice-valued key.
SOURCES = ("network", "file")
STRUCTURE_SOURCES = ("expert", "learned", "hybrid")
PRIORS = ("bdeu", "k2", "uniform", "hierarchical")
BACKENDS = ("conjugate", "numpyro", "pymc", "gibbs")
COMPUTE = ("local", "dask")
DATA_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass
class DatasetConfig:
    """Where the data come from: simulated from a network, or a user's CSV/Parquet file."""

    name: str = "alarm"
    source: str = "network"
    network: str | None = "alarm"
    rows: int = 10_000
    missing: float = 0.0
    seed: int = 0
    path: str | None = None
    #: per column: a list of states, ``drop``, or {states | discretize, bins | cuts}
    #: (see bnlab.schema); columns not named here are inferred
    schema: dict[str, Any] | None = None
    targets: list[str] = field(default_factory=list)
    #: inference of undeclared columns of file data (bnlab.infer_schema)
    max_states: int = 20
    discretize: str = "quantile"
    bins: int = 5


@dataclass
class StructureConfig:
    """How the graph is obtained: an expert graph, a search, or a search from the expert graph.

    The search keys are those of :func:`bnlab.learn.load_structure_config` (the expert
    knowledge YAMLs in ``conf/structure/``); a file without ``source`` is a constrained search.
    """

    source: str = "learned"
    network: str | None = None
    edges: list[Any] | None = None
    description: str = ""
    method: str = "hc"
    score: str = "bic"
    ess: float = 1.0
    alpha: float = 0.05
    test: str = "g2"
    restarts: int = 0
    perturb: int = 5
    tabu_length: int = 10
    seed: int | None = None
    max_indegree: int | None = None
    tree_start: bool | None = None
    required: list[Any] = field(default_factory=list)
    forbidden: list[Any] = field(default_factory=list)
    tiers: list[list[str]] = field(default_factory=list)
    no_parents: list[str] = field(default_factory=list)
    no_children: list[str] = field(default_factory=list)
    start: list[Any] | None = None


@dataclass
class PriorConfig:
    """Dirichlet prior over every CPT row."""

    name: str = "bdeu"
    ess: float = 1.0


@dataclass
class BackendConfig:
    """Fitting backend and, for MCMC, its sampler settings."""

    name: str = "conjugate"
    draws: int = 1000
    warmup: int = 500
    chains: int = 2
    target_accept: float = 0.8
    sampler: str | None = None  # pymc: "numpyro" or "pymc" (nuts_sampler)


@dataclass
class EvaluateConfig:
    """Held-out split and what is computed on it."""

    test_fraction: float = 0.2
    split_seed: int = 1
    targets: list[str] = field(default_factory=list)
    interval: float = 0.9
    draws: int = 200
    max_rows: int = 2000
    coverage_queries: int = 200
    example_rows: int = 3
    explain_rows: int = 1


@dataclass
class VettingConfig:
    """Thresholds of the vetting gate (``conf/vetting/``) and whether a failed gate fails the run.

    ``fail``: ``bnlab-experiment`` exits 2 when the verdict fails (``false``: it reports the
    failed checks and exits 0).
    """

    fail: bool = True
    audit_fdr: float = 0.05
    min_effect: float = 0.001
    max_violations: float = 0.0
    max_ece: float = 0.05
    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    max_divergences: int = 0
    min_coverage_90: float = 0.85
    max_coverage_90: float = 0.95


@dataclass
class ExportConfig:
    """Registration of a vetted model in the MLflow registry."""

    enabled: bool = False
    registry_name: str = "bnlab"
    alias: str = "challenger"
    tracking_uri: str | None = None
    target: str | None = None


@dataclass
class TrackingConfig:
    """MLflow tracking: an embedded SQLite store unless ``uri`` names a server."""

    enabled: bool = True
    uri: str | None = None
    experiment: str = "bnlab"


@dataclass
class ComputeConfig:
    """Where the learn and fit steps count the training rows (``conf/compute/``).

    ``local`` with no ``train_data`` loads the prepared rows into memory (the default);
    otherwise the rows are counted in place from Parquet, streamed in record batches of
    ``batch_rows`` rows (``local``) or one task per file on the Dask scheduler at
    ``scheduler_address`` (``dask``), which must answer within ``timeout_s`` seconds.
    ``train_data`` is a Parquet folder, glob or file of training rows to use instead of the
    prepared ones (the Dask workers must be able to read it under the same path).
    """

    name: str = "local"
    scheduler_address: str | None = None
    timeout_s: float = 10.0
    batch_rows: int = 1_000_000
    train_data: str | None = None


@dataclass
class EffectQuestion:
    """One causal effect the evaluate step answers (:func:`bnlab.causal.effect`)."""

    name: str = ""
    treatment: str = ""
    outcome: str = ""
    treated: str = ""
    control: str = ""
    outcome_state: str = ""
    kind: str = "ate"
    given: dict[str, str] = field(default_factory=dict)
    latent: list[Any] = field(default_factory=list)


@dataclass
class CausalConfig:
    """Causal effect questions of an experiment (``conf/causal/``); none by default."""

    draws: int | None = None
    questions: list[EffectQuestion] = field(default_factory=list)


@dataclass
class ExperimentConfig:
    """One experiment: data, structure, prior, backend, evaluation, gate, export, tracking."""

    name: str = "default"
    seed: int = 0
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    structure: StructureConfig = field(default_factory=StructureConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    vetting: VettingConfig = field(default_factory=VettingConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    causal: CausalConfig = field(default_factory=CausalConfig)


def register_schema() -> None:
    """Store the schema in Hydra's ConfigStore as ``bnlab_schema`` (for ``--cfg`` and tools)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="bnlab_schema", node=ExperimentConfig)


def _closest_key_hint(key: str) -> str:
    """For a key no section has: " Did you mean 'prior.ess'? The keys of 'prior' are [...]"."""
    import dataclasses
    import difflib

    node: Any = ExperimentConfig()
    parts = key.split(".")
    for part in parts[:-1]:
        node = getattr(node, part, None)
    if not dataclasses.is_dataclass(node) or parts[-1] in {
        f.name for f in dataclasses.fields(node)
    }:
        return ""
    known = sorted(f.name for f in dataclasses.fields(node))
    close = difflib.get_close_matches(parts[-1], known, n=1)
    guess = f" Did you mean {'.'.join([*parts[:-1], close[0]])!r}?" if close else ""
    return f"{guess} The keys of {'.'.join(parts[:-1]) or 'the top level'!r} are {known}."


def _typed(cfg: Mapping[str, Any] | Any) -> ExperimentConfig:
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        if isinstance(cfg, DictConfig):  # drop Hydra's own node before resolving
            keys = [str(k) for k in cfg.keys() if k != "hydra"]
            cfg = OmegaConf.to_container(OmegaConf.masked_copy(cfg, keys), resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"cannot resolve the configuration: {err}") from None
    if not isinstance(cfg, Mapping):
        raise ConfigError(
            f"an experiment configuration is a mapping of sections, got {type(cfg).__name__}; "
            "compose it from conf/ (bnlab compose) or write params.yaml as YAML mapping."
        )
    cfg = {k: v for k, v in cfg.items() if k != "hydra"}
    try:
        merged = OmegaConf.merge(OmegaConf.structured(ExperimentConfig), cfg)
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(
            f"invalid configuration at {key!r}: {first}.{_closest_key_hint(str(key))} Check the "
            "spelling and type of that key against bnlab.ops.config.ExperimentConfig (or the "
            "files in conf/)."
        ) from None
    if not isinstance(obj, ExperimentConfig):  # pragma: no cover - merge keeps the type
        raise ConfigError("configuration did not convert to an ExperimentConfig")
    return obj


def _choice(value: str, allowed: tuple[str, ...], key: str) -> None:
    if value not in allowed:
        raise ConfigError(
            f"{key}={value!r} is not one of {', '.join(allowed)}; pick one of those "
            f"(e.g. on the command line: {key.split('.')[0]}=<option>)."
        )


def resolve_path(path: str, root: Path) -> Path:
    """``path`` as given when absolute, otherwise relative to the project ``root``."""
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else root / p


def _network_ref(ref: str, root: Path, key: str) -> None:
    """A network reference is an example name or an existing network file."""
    from bnlab.io import list_examples

    if ref in list_examples():
        return
    if resolve_path(ref, root).is_file():
        return
    raise ConfigError(
        f"{key}={ref!r} is neither a shipped example ({', '.join(list_examples())}) nor an "
        f"existing network file (looked in {root}); fix the name or the path."
    )


def find_cycle(edges: list[tuple[str, str]]) -> list[str] | None:
    """A directed cycle among ``edges`` (as a node list), or ``None`` when acyclic."""
    children: dict[str, list[str]] = {}
    for a, b in edges:
        children.setdefault(a, []).append(b)
        children.setdefault(b, [])
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(children):
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            kids = children[node]
            if i < len(kids):
                stack.append((node, i + 1))
                nxt = kids[i]
                if state.get(nxt) == 1:
                    return path[path.index(nxt) :]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def parse_edges(pairs: list[Any], key: str) -> list[tuple[str, str]]:
    """Edges written as ``[parent, child]`` or ``"parent -> child"``.

    Raises
    ------
    ConfigError
        An item that is neither.
    """
    out = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, str):
            pair = [part.strip() for part in pair.split("->")]
        if isinstance(pair, str) or len(pair) != 2 or not all(pair):
            raise ConfigError(
                f"{key}[{i}]={pairs[i]!r} is not an edge; write each edge as [parent, child] "
                "or 'parent -> child'."
            )
        out.append((str(pair[0]), str(pair[1])))
    return out


def _check_dataset(d: DatasetConfig, root: Path) -> None:
    _choice(d.source, SOURCES, "dataset.source")
    if d.source == "network":
        if d.network is None:
            raise ConfigError(
                "dataset.source='network' needs dataset.network (an example name such as "
                "'alarm' or a .bif/.json file) to simulate from."
            )
        _network_ref(d.network, root, "dataset.network")
        if d.rows < 1:
            raise ConfigError(
                f"dataset.rows={d.rows} must be a positive number of rows to simulate; "
                "set dataset.rows=1000 or more."
            )
        if not 0.0 <= d.missing < 1.0:
            raise ConfigError(
                f"dataset.missing={d.missing} is a share of missing cells and must be in [0, 1)."
            )
    else:
        if d.path is None:
            raise ConfigError(
                "dataset.source='file' needs dataset.path, a .csv or .parquet file of the data."
            )
        p = resolve_path(d.path, root)
        if p.suffix.lower() not in DATA_SUFFIXES:
            raise ConfigError(
                f"dataset.path={d.path!r} has suffix {p.suffix!r}; bnlab reads "
                f"{', '.join(DATA_SUFFIXES)} data files."
            )
        if not p.is_file():
            raise ConfigError(
                f"dataset.path={d.path!r}: no such data file (looked for {p}); fix the path "
                "or create the file."
            )
        if d.network is not None:
            _network_ref(d.network, root, "dataset.network")
        for var, entry in (d.schema or {}).items():
            if isinstance(entry, (list, tuple)) and (
                len(entry) < 2 or len({str(x) for x in entry}) != len(entry)
            ):
                raise ConfigError(
                    f"dataset.schema.{var}={entry!r} needs two or more distinct states."
                )
            if not isinstance(entry, (list, tuple, Mapping)) and entry != "drop":
                raise ConfigError(
                    f"dataset.schema.{var}={entry!r}: write a list of states, `drop`, or "
                    "{discretize: quantile, bins: 5} / {cuts: [...]} / {states: [...]}."
                )
        if d.max_states < 2 or d.bins < 2:
            raise ConfigError(
                f"dataset.max_states={d.max_states} and dataset.bins={d.bins} must be >= 2."
            )
        _check_columns(d, p, root)
    if d.seed < 0:
        raise ConfigError(f"dataset.seed={d.seed} must be a non-negative integer.")


def data_columns(path: Path) -> list[str]:
    """Column names of a CSV (its header line) or Parquet file (its schema), without the rows."""
    try:
        if path.suffix.lower() == ".csv":
            import pandas as pd

            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        import pyarrow.parquet as pq

        return [str(c) for c in pq.read_schema(path).names]
    except Exception as err:  # any reader failure means the file is not usable data
        raise ConfigError(
            f"dataset.path={str(path)!r} cannot be read as {path.suffix.lstrip('.')} data "
            f"({type(err).__name__}: {err}); check the file."
        ) from None


def _check_columns(d: DatasetConfig, path: Path, root: Path) -> None:
    """Refuse a data file without a column for every declared variable (its header only).

    The values are checked against the declared states when the data are read.
    """
    declared = (
        sorted(v for v, e in d.schema.items() if e != "drop")
        if d.schema
        else sorted(_dataset_variables(d, root) or ())
    )
    columns = set(data_columns(path))
    absent = [v for v in declared if v not in columns]
    if absent:
        raise ConfigError(
            f"dataset.path={d.path!r} has no column for declared variable(s) {absent[:10]}"
            f"{' ...' if len(absent) > 10 else ''} (its columns: {sorted(columns)[:10]}"
            f"{' ...' if len(columns) > 10 else ''}); add the columns or fix dataset.schema / "
            "dataset.network."
        )


def _check_structure(s: StructureConfig, d: DatasetConfig, root: Path) -> None:
    _choice(s.source, STRUCTURE_SOURCES, "structure.source")
    if s.network is not None:
        _network_ref(s.network, root, "structure.network")
    for key in ("edges", "required", "forbidden", "start"):
        pairs = getattr(s, key)
        if pairs:
            edges = parse_edges(pairs, f"structure.{key}")
            if key == "forbidden":
                continue
            cycle = find_cycle(edges)
            if cycle:
                path = " -> ".join([*cycle, cycle[0]])
                raise ConfigError(
                    f"structure.{key} has a directed cycle: {path}. A Bayesian network is "
                    "acyclic: remove or reverse one of these edges in the structure YAML."
                )
    if s.source in ("expert", "hybrid") and s.edges is None and s.network is None:
        if d.network is None:
            raise ConfigError(
                f"structure.source={s.source!r} needs an expert graph: set structure.edges, "
                "structure.network, or dataset.network (the true network of simulated data)."
            )
    if s.max_indegree is not None and s.max_indegree < 0:
        raise ConfigError(f"structure.max_indegree={s.max_indegree} must be >= 0.")


def _check_rest(cfg: ExperimentConfig) -> None:
    _choice(cfg.prior.name, PRIORS, "prior.name")
    if not cfg.prior.ess > 0:
        raise ConfigError(
            f"prior.ess={cfg.prior.ess} is an equivalent sample size and must be positive."
        )
    b = cfg.backend
    _choice(b.name, BACKENDS, "backend.name")
    if cfg.prior.name == "hierarchical" and b.name in ("conjugate", "gibbs"):
        raise ConfigError(
            f"prior=hierarchical has no conjugate updates, so backend={b.name} cannot fit it: "
            "use backend=numpyro or backend=pymc."
        )
    if b.sampler is not None:
        if b.name != "pymc":
            raise ConfigError(
                f"backend.sampler={b.sampler!r} applies to backend=pymc only; set it to null."
            )
        _choice(b.sampler, ("numpyro", "pymc"), "backend.sampler")
    for key in ("draws", "chains"):
        if getattr(b, key) < 1:
            raise ConfigError(f"backend.{key}={getattr(b, key)} must be >= 1.")
    if b.warmup < 0:
        raise ConfigError(f"backend.warmup={b.warmup} must be >= 0.")
    if not 0.0 < b.target_accept < 1.0:
        raise ConfigError(f"backend.target_accept={b.target_accept} must be in (0, 1).")
    e = cfg.evaluate
    if not 0.0 < e.test_fraction < 1.0:
        raise ConfigError(
            f"evaluate.test_fraction={e.test_fraction} must be in (0, 1): the share of rows "
            "held out for evaluation."
        )
    if not 0.0 < e.interval < 1.0:
        raise ConfigError(f"evaluate.interval={e.interval} must be in (0, 1).")
    if e.draws < 1 or e.max_rows < 1 or e.coverage_queries < 1:
        raise ConfigError(
            "evaluate.draws, evaluate.max_rows and evaluate.coverage_queries must be >= 1."
        )
    if not 0 <= e.explain_rows <= e.example_rows:
        raise ConfigError(
            f"evaluate.explain_rows={e.explain_rows} must lie in 0..evaluate.example_rows="
            f"{e.example_rows}: the explained queries are among the example queries."
        )
    if cfg.seed < 0:
        raise ConfigError(f"seed={cfg.seed} must be a non-negative integer.")
    if not cfg.name or "/" in cfg.name or cfg.name.startswith("."):
        raise ConfigError(
            f"name={cfg.name!r} names the experiment's folder: use letters, digits, '-' or '_'."
        )


def _check_compute(c: ComputeConfig) -> None:
    _choice(c.name, COMPUTE, "compute.name")
    if c.name == "dask" and not c.scheduler_address:
        raise ConfigError(
            "compute=dask needs compute.scheduler_address, e.g. tcp://scheduler-host:8786 "
            "(the address `dask scheduler` prints), or use compute=local."
        )
    if not c.timeout_s > 0:
        raise ConfigError(f"compute.timeout_s={c.timeout_s} must be a positive number of seconds.")
    if c.batch_rows < 1:
        raise ConfigError(f"compute.batch_rows={c.batch_rows} must be >= 1.")
    if c.train_data is not None and not c.train_data.strip():
        raise ConfigError(
            "compute.train_data is empty: give a Parquet folder, glob or file, or null to use "
            "the prepared training rows."
        )


def _check_causal(c: CausalConfig, variables: set[str] | None) -> None:
    if c.draws is not None and c.draws < 1:
        raise ConfigError(f"causal.draws={c.draws} must be >= 1 (or null for evaluate.draws).")
    seen: set[str] = set()
    for i, q in enumerate(c.questions):
        key = f"causal.questions[{i}]"
        for name in ("name", "treatment", "outcome", "treated", "control", "outcome_state"):
            if not getattr(q, name):
                raise ConfigError(f"{key}.{name} is empty; every effect question needs it.")
        if q.name in seen or not q.name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(
                f"{key}.name={q.name!r} must be unique and use letters, digits, '-' or '_' "
                "(it names the metrics causal.<name>.mean/lower/upper)."
            )
        seen.add(q.name)
        _choice(q.kind, ("ate", "rr", "or"), f"{key}.kind")
        names = {q.treatment, q.outcome, *q.given}
        names |= {str(v) for v in q.latent if isinstance(v, str)}
        unknown = sorted(names - variables) if variables is not None else []
        if unknown:
            raise ConfigError(
                f"{key} names {unknown}, which are not variables of the dataset; fix the "
                "question in conf/causal/."
            )


def _dataset_variables(d: DatasetConfig, root: Path) -> set[str] | None:
    if d.source == "file" and d.network is None and d.path is not None:
        # inferred from the file: every column but the dropped ones
        dropped = {v for v, e in (d.schema or {}).items() if e == "drop"}
        path = resolve_path(d.path, root)
        return set(data_columns(path)) - dropped if path.is_file() else None
    if d.schema:
        return set(d.schema)
    if d.network is None:
        return None
    from bnlab.io import list_examples, load_example, read_network

    net = (
        load_example(d.network)
        if d.network in list_examples()
        else read_network(resolve_path(d.network, root))
    )
    return set(net.variables)


def _check_names(cfg: ExperimentConfig, root: Path) -> None:
    """Targets and the structure's expert knowledge must name variables of the dataset."""
    variables = _dataset_variables(cfg.dataset, root)
    if variables is None:
        return
    unknown = [t for t in cfg.evaluate.targets if t not in variables]
    if unknown:
        raise ConfigError(
            f"evaluate.targets names {unknown}, which are not variables of dataset "
            f"{cfg.dataset.name!r}; pick targets among its variables."
        )
    s = cfg.structure
    for key in ("edges", "required", "forbidden", "start", "tiers", "no_parents", "no_children"):
        value = getattr(s, key) or []
        if key in ("edges", "required", "forbidden", "start"):
            names = {v for edge in parse_edges(value, f"structure.{key}") for v in edge}
        elif key == "tiers":
            names = {str(v) for tier in value for v in tier}
        else:
            names = {str(v) for v in value}
        unknown = sorted(names - variables)
        if unknown:
            raise ConfigError(
                f"structure.{key} names {unknown}, which are not variables of dataset "
                f"{cfg.dataset.name!r}; fix the structure YAML or pick the matching dataset."
            )


def validate(
    cfg: Mapping[str, Any] | Any, root: str | os.PathLike[str] | None = None
) -> ExperimentConfig:
    """Check a composed configuration and return it as an :class:`ExperimentConfig`.

    Parameters
    ----------
    cfg
        The composed configuration (an OmegaConf ``DictConfig`` or a plain mapping, e.g. the
        contents of ``params.yaml``); a ``hydra`` section is ignored.
    root
        Folder that relative paths are resolved against (default: the current folder).

    Returns
    -------
    ExperimentConfig
        The typed configuration.

    Raises
    ------
    ConfigError
        An unknown key, a wrong type, a value out of range, a missing file, a cyclic graph.
    """
    base = Path(root) if root is not None else Path.cwd()
    typed = _typed(cfg)
    d, st = typed.dataset, typed.structure
    if d.source == "file" and d.network is None and st.source == "expert":
        if st.edges is None and st.network is None:  # own data, no expert graph: search one
            st.source = "learned"
    _check_dataset(typed.dataset, base)
    _check_structure(typed.structure, typed.dataset, base)
    _check_rest(typed)
    _check_compute(typed.compute)
    _check_names(typed, base)
    if typed.causal.questions or typed.causal.draws is not None:
        _check_causal(typed.causal, _dataset_variables(typed.dataset, base))
    return typed


def load_params(
    path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
) -> ExperimentConfig:
    """Read and validate a composed ``params.yaml``.

    Raises
    ------
    ConfigError
        A missing or unreadable file, or an invalid configuration (see :func:`validate`).
    """
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            f"cannot read the parameters file {str(p)!r} ({err.strerror}); run `bnlab compose` "
            "to write it from conf/."
        ) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{p} is not valid YAML: {err}") from None
    return validate(doc if doc is not None else {}, root=root)


def as_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    """The configuration as plain nested dicts and lists (for YAML/JSON and tracking)."""
    from dataclasses import asdict

    return asdict(cfg)
