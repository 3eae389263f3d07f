"""The report's drift section from a real monitor verdict (asia: a changed family)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bnlab
from bnlab.errors import ArtifactError
from bnlab.monitor import drift
from bnlab.report.monitoring import monitor_section


@pytest.fixture(scope="module")
def verdicts() -> tuple[dict[str, object], dict[str, object]]:
    asia = bnlab.load_example("asia")
    post = bnlab.fit(asia.structure, bnlab.sample(asia, n=5000, seed=0))
    same = drift(post, bnlab.sample(asia, n=2000, seed=1), replicates=10, seed=0)
    cpt = np.array(asia.cpt("dysp"))
    cpt[..., :] = cpt[..., ::-1]  # dysp | (bronc, either) flipped
    moved = drift(post, bnlab.sample(asia.with_cpts({"dysp": cpt}), n=2000, seed=2),
                  replicates=10, seed=0)  # fmt: skip
    return json.loads(same.to_json()), json.loads(moved.to_json())


def test_alert_names_and_highlights_the_changed_family(
    verdicts: tuple[dict[str, object], dict[str, object]],
) -> None:
    quiet, moved = verdicts
    assert moved["alert"] and not quiet["alert"]
    sec = monitor_section(moved)
    assert sec.id == "monitor" and "ALERT" in sec.body
    # the families table lists the most changed family first, highlighted
    first_row = sec.body.split("<tbody>")[1].split("</tr>")[0]
    assert 'class="bad"' in first_row and "<td>dysp</td>" in first_row
    calm = monitor_section(quiet)
    assert "No drift" in calm.body and 'class="bad"' not in calm.body.split("<tbody>")[1]


def test_absent_and_malformed_verdicts() -> None:
    assert "Not run" in monitor_section(None).body
    with pytest.raises(ArtifactError, match="not a bnlab monitor verdict"):
        monitor_section({"alert": True})
    with pytest.raises(ArtifactError, match="list of records"):
        monitor_section(
            {"alert": False, "families": {}, "marginals": [], "quality": [], "thresholds": {}}
        )
