"""The conditioning screen's rule read back (specae.analysis.conditioning) and the kept results files."""

import pytest

from specae.analysis.conditioning import eligible, read_screen, screen_table, winner
from specae.analysis.kept_results import decoder_probe_table, decoder_signal, read_kept
from specae.training.presets import get_preset


def _run(l1, converged=True, collapsed=False, finite=True):
    state = "collapsed" if collapsed else ("converged" if converged else "unconverged")
    return dict(final_l1=l1, converged=converged, collapsed=collapsed, finite=finite, run_state=dict(state=state))


def test_the_amendment_leaves_out_a_better_cell_that_did_not_converge():
    cells = {"a 0.001": dict(vae=_run(0.06), ae=_run(0.05)),
             "a 0.01": dict(vae=_run(0.05, converged=False), ae=_run(0.04)),
             "b 0.01": dict(vae=_run(0.01, collapsed=True), ae=_run(0.01))}
    assert winner(cells, amended=False) == "a 0.01"  # lowest √(L1·L1) among the sound cells
    assert winner(cells) == "a 0.001"
    assert not eligible(cells["b 0.01"], amended=False)  # a collapsed β-VAE is never eligible
    assert winner({"b 0.01": cells["b 0.01"]}) is None


def test_every_study_ii_run_adopts_the_screens_amended_winner():
    """The committed screen's amended winner is the initialisation and peak step of the study preset."""
    cells = read_screen()
    init, peak = winner(cells).rsplit(" ", 1)
    study = get_preset("study")
    assert (study.model.init, study.train.learning_rate) == (init, float(peak))
    assert winner(cells, amended=False) != winner(cells)  # the amendment changed the choice (decisions.md)
    table = screen_table(cells)
    assert len(table) == 8 and table["eligible (amended)"].sum() >= 1
    assert table.loc[winner(cells), "geometric mean"] == pytest.approx(
        (table.loc[winner(cells), "β-VAE L1"] * table.loc[winner(cells), "deterministic L1"]) ** 0.5, rel=1e-12)


def test_the_decoder_probe_table_has_both_frames_of_each_optimisation():
    table = decoder_probe_table()
    assert sorted(table.index) == [(o, f) for o in ("he-normal", "study") for f in ("observed", "rest")]
    assert (table["line cores"] > table["elsewhere"]).all()  # line cores are the hard pixels in every probe
    signal = decoder_signal()
    assert sorted(signal) == ["he-normal", "study"] and all(len(stds) == 10 for stds in signal.values())


def test_a_missing_results_file_names_the_command_that_writes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/x.py"):
        read_kept(tmp_path / "none.json", "python scripts/x.py")
