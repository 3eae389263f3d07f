"""``bnlab.infer.contract.contract`` (einsum through batched matmuls) against ``numpy.einsum``.

Oracle: NumPy's own einsum on random equations: any number of operands, indices shared by
two or more operands and kept (batch) or summed, indices of one operand summed away,
size-1 axes, scalars and outer products.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnlab.infer.contract import contract, contraction_program

LETTERS = "abcdefgZ"


@st.composite
def equations(draw: st.DrawFn) -> tuple[str, list[np.ndarray]]:
    sizes = {c: draw(st.integers(1, 3)) for c in LETTERS}
    n_ops = draw(st.integers(1, 4))
    terms = [
        "".join(draw(st.permutations(LETTERS))[: draw(st.integers(0, 4))]) for _ in range(n_ops)
    ]
    used = sorted(set("".join(terms)))
    kept = [c for c in used if draw(st.booleans())]
    out = "".join(draw(st.permutations(kept))) if kept else ""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    return ",".join(terms) + "->" + out, [rng.random([sizes[c] for c in t]) for t in terms]


@settings(max_examples=300, deadline=None)
@given(equations())
def test_contract_equals_numpy_einsum(case: tuple[str, list[np.ndarray]]) -> None:
    equation, operands = case
    want = np.einsum(equation, *operands)
    got = contract(equation, *operands)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_step_shapes_with_a_batch_and_a_draw_axis() -> None:
    rng = np.random.default_rng(0)
    # a forward step of the engine: CPT draws (Z), evidence rows (r), summed parent (b)
    cpt, lik, msg = rng.random((5, 3, 4)), rng.random((7, 3)), rng.random((5, 7, 4, 2))
    equation = "Zab,ra,Zrbc->Zrc"
    np.testing.assert_allclose(
        contract(equation, cpt, lik, msg), np.einsum(equation, cpt, lik, msg), rtol=1e-12
    )
    contract(equation, cpt, lik, msg)
    assert contraction_program.cache_info().hits >= 1  # worked out once per shapes


def test_a_repeated_index_is_refused() -> None:
    with pytest.raises(ValueError, match="repeated index"):
        contract("aa->a", np.ones((2, 2)))
