"""What every chapter does around its analysis: check its parameters and pick its preset, publish its
figures, glue numbers for its text, and glue a claim's scorecard row for ``intro.md``."""

from __future__ import annotations

from collections.abc import Mapping

from specae.analysis.claims import ClaimCheck, ClaimVerdict
from specae.book.parameters import check_parameters
from specae.book.provenance import publish
from specae.training.presets import OVERRIDES, Preset, preset_from_parameters


def set_up_chapter(parameters: dict, whole_text: bool = False, **fixed) -> Preset:
    """Check a chapter's papermill ``parameters`` and return the preset they choose.

    parameters: the chapter's parameters cell as a dict (``preset`` and the rest); those that are preset
    overrides (``seed``, ``latent_dim``, …; None keeps the preset's value) configure it, the others
    (``device``, ``latent_sizes``, …) are only checked. fixed: overrides the chapter always applies, e.g.
    ``variational=True``. whole_text: tables show whole sentences (pandas ``display.max_colwidth`` = None).
    """
    check_parameters(**parameters)
    if whole_text:
        import pandas as pd

        pd.set_option("display.max_colwidth", None)
    overrides = {key: value for key, value in parameters.items() if key in OVERRIDES}
    return preset_from_parameters(parameters["preset"], **{**overrides, **fixed})


def publish_figure(figure, figure_id: str, parameters: dict, preset: Preset | None = None) -> None:
    """Export and glue ``figure`` with its provenance (:func:`specae.book.provenance.publish`), then close it:
    the chapter shows it once, through its numbered ``glue:figure``. Returns nothing, so a cell that ends
    with it shows nothing either."""
    publish(figure, figure_id, parameters, preset, close=True)


def glue_values(values: Mapping[str, object], prefix: str = "") -> None:
    """Glue each value as ``<prefix><name>`` for the chapter's text, in order, without showing it in the cell."""
    from myst_nb import glue

    for name, value in values.items():
        glue(f"{prefix}{name}", value, display=False)


def glue_claim(check: ClaimCheck | ClaimVerdict) -> None:
    """Glue ``<c>_paper``, ``<c>_ours``, ``<c>_tolerance`` and ``<c>_verdict`` (``c`` = "c1" …) for the book,
    from one run's check or from the verdict over seeds."""
    row = {field: getattr(check, field) for field in ("paper", "ours", "tolerance", "verdict")}
    glue_values(row, prefix=f"{check.claim.lower()}_")
