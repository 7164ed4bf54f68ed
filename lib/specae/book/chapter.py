"""What every chapter does around its analysis: check its parameters and pick its preset, publish its
figures, glue numbers for its text, and glue a claim's scorecard row for ``intro.md``."""

from __future__ import annotations

from collections.abc import Mapping

from specae.analysis.claims import ClaimCheck
from specae.analysis.verdicts import ClaimVerdict
from specae.book.parameters import bad_parameters, check_parameters
from specae.book.provenance import publish
from specae.training.datasets import IN_MEMORY_LIMIT_BYTES, bytes_in_memory, fits_in_memory
from specae.training.presets import OVERRIDES, PRESETS, Preset, get_preset, preset_from_parameters


def set_up_chapter(parameters: dict, whole_text: bool = False, survey_in_memory: bool = False, **fixed) -> Preset:
    """Check a chapter's papermill ``parameters`` and return the preset they choose. A parameter papermill injected
    that the chapter does not have (a misspelt or another chapter's) is refused too, not silently ignored.

    parameters: the chapter's parameters cell as a dict (``preset`` and the rest); those that are preset
    overrides (``seed``, ``latent_dim``, …; None keeps the preset's value) configure it, the others
    (``device``, ``latent_sizes``, …) are only checked. fixed: overrides the chapter always applies, e.g.
    ``variational=True``. whole_text: tables show whole sentences (pandas ``display.max_colwidth`` = None).
    survey_in_memory: the chapter holds its preset's whole survey in memory, so a preset whose survey does not fit
    (the paper's) is refused here, naming the presets that do.
    """
    check_parameters(**parameters)
    unknown = sorted(injected_parameters() - set(parameters))
    if unknown:
        raise bad_parameters([f"{name}: not a parameter of this chapter; allowed: {', '.join(parameters)}; "
                              "fix: leave it out" for name in unknown])
    if whole_text:
        import pandas as pd

        pd.set_option("display.max_colwidth", None)
    overrides = {key: value for key, value in parameters.items() if key in OVERRIDES}
    preset = preset_from_parameters(parameters["preset"], **{**overrides, **fixed})
    if survey_in_memory and not fits_in_memory(preset.data):
        data = preset.data
        fitting = [name for name in sorted(PRESETS) if fits_in_memory(get_preset(name).data)]
        raise bad_parameters([
            (f"preset = {preset.name!r}: its survey ({data.synthetic.n_spectra:,} spectra × "
            f"{data.grid.n_pixels:,} px, {bytes_in_memory(data) / 1024**3:,.0f} GiB) does not fit in the "
            f"{IN_MEMORY_LIMIT_BYTES / 1024**3:.0f} GiB this chapter may hold in memory; allowed: "
            f"{', '.join(map(repr, fitting))}; fix: -p preset study (train the paper preset with "
            "`python -m specae train --preset paper --device cuda`, which streams its spectra)")])
    return preset


def injected_parameters() -> set[str]:
    """The names papermill's injected parameters cell assigned in this kernel (its source starts with
    "# Parameters"); empty outside IPython."""
    import ast

    from IPython import get_ipython

    shell = get_ipython()
    sources = shell.user_ns.get("In", []) if shell is not None else []
    return {target.id for source in sources if source.startswith("# Parameters\n")
            for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


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
    """Glue ``<c>_paper``, ``<c>_ours``, ``<c>_tolerance`` and ``<c>_verdict`` (``c`` = "c1", "c5_rv" …) for the
    book, from one run's check or from the verdict over seeds, which also glues ``<c>_reason`` and
    ``<c>_deciding`` (the deciding number's range over seeds) for the scorecard."""
    fields = ("paper", "ours", "tolerance", "verdict") + (("reason", "deciding") if isinstance(check, ClaimVerdict)
                                                          else ())
    glue_values({field: getattr(check, field) for field in fields}, prefix=f"{check.claim.lower().replace(' ', '_')}_")
