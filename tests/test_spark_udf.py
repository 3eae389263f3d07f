"""The exported model as a Spark UDF through ``mlflow.pyfunc.spark_udf`` (issue 28).

Runs where PySpark (``uv sync --group spark``) and a JVM are installed: ``make test-spark``.
Elsewhere ``tests/conftest.py`` deselects it and says so; bnlab itself needs neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bnlab
import bnlab.mlflow

pytestmark = [
    pytest.mark.spark,
    # PySpark 4.3 warns that it does not fully support pandas 3 (bnlab's pandas); the
    # Arrow exchange this test goes through works, and is what the test checks
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # and its toPandas passes pandas 3 a deprecated keyword (PySpark's code, not bnlab's)
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

TARGET = "either"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("bnlab-spark-udf-test")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[bnlab.BayesNet, Path]:
    net = bnlab.load_example("asia")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=2000, seed=0), ess=2.0)
    folder = tmp_path_factory.mktemp("spark") / "model"
    bnlab.mlflow.save_model(post, folder, targets=[TARGET], draws=200)
    return net, folder


def _evidence(net: bnlab.BayesNet, rows: int) -> pd.DataFrame:
    frame = bnlab.sample(net, n=rows, seed=7).drop(columns=[TARGET]).astype(object)
    frame = frame.mask(np.random.default_rng(7).random(frame.shape) < 0.4, None)
    frame.insert(0, "record_id", np.arange(rows))
    return frame


def test_spark_udf_answers_equal_the_pyfunc(spark: Any, model: tuple[bnlab.BayesNet, Path]) -> None:
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    net, folder = model
    frame = _evidence(net, 300)
    evidence = [c for c in frame.columns if c != "record_id"]
    schema = ", ".join(["record_id long", *(f"{c} string" for c in evidence)])
    df = spark.createDataFrame(frame, schema=schema)
    df = df.repartition(3)  # several tasks, each calling the pyfunc on its own batches
    udf = mlflow.pyfunc.spark_udf(
        spark, str(folder), env_manager="local", params={"interval": 0.8, "draws": 200}
    )
    scored = (
        df.withColumn("answers", udf(F.struct(*evidence)))
        .select("record_id", "answers.*")
        .toPandas()
        .sort_values("record_id")
        .set_index("record_id")
    )
    local = mlflow.pyfunc.load_model(str(folder)).predict(
        frame[evidence], params={"interval": 0.8, "draws": 200}
    )
    local.index = frame["record_id"]
    stats = ("mean", "lower", "upper")
    columns = [f"P({TARGET}={s})_{k}" for s in net.states[TARGET] for k in stats]
    assert list(scored.columns) == list(local.columns) and set(columns) <= set(scored.columns)
    assert len(scored) == 300 and scored.notna().all().all()
    # Spark's batches are not the in-process call's: equal up to summation order
    np.testing.assert_allclose(
        scored[columns].to_numpy(), local.loc[scored.index, columns].to_numpy(), atol=1e-12
    )
    # the settings reached the model: an 80% interval is narrower than the default 90%
    wide = mlflow.pyfunc.load_model(str(folder)).predict(frame[evidence].head(20))
    first = f"P({TARGET}={net.states[TARGET][0]})"
    low, high = f"{first}_lower", f"{first}_upper"
    narrow = scored.loc[range(20)]
    assert ((narrow[high] - narrow[low]).to_numpy() < (wide[high] - wide[low]).to_numpy()).all()
