"""The report section of a model's data schema: how each raw column became a variable."""

from __future__ import annotations

from typing import Any

from bnlab.report import html as h


def schema_section(posterior: Any | None) -> h.Section | None:
    """Every schema decision (kind, states, discretizer, reason); ``None`` without a schema."""
    from bnlab.schema import schema_of

    schema = None if posterior is None else schema_of(posterior)
    if schema is None:
        return None
    frame = schema.summary()
    n_bins = int((frame["kind"] == "discretized").sum())
    body = h.paragraph(
        f"{len(frame)} columns of the raw data: {n_bins} discretized on the training rows "
        "(bins stored in the model, applied to raw numbers at prediction time), the others "
        "kept as categories. Inferred decisions can be overridden by declaring dataset.schema."
    )
    body += '<div class="scroll">' + h.table(frame) + "</div>"
    return h.Section("schema", "Data schema", body)
