"""The numbers the chapters glue into their text, from the library objects they describe."""

import numpy as np
import pytest

from specae.analysis.paper_comparison import LabelNode, PaperComparison
from specae.book import model_figures
from specae.book.facts import architecture_facts, grid_facts, label_node_facts, paper_latent_facts
from specae.book.model_figures import architecture_summary, format_summary
from specae.io.fits import HarpsSpectrum
from specae.spectra.grid import Grid
from specae.training.presets import PRESETS, get_preset

SPEED_OF_LIGHT_KMS = 299_792.458


def test_grid_facts_of_the_full_resolution_grid():
    wavelength = 3_781.0 + 0.01 * np.arange(313_501)  # 3781–6916 Å, like an ADP product
    real = HarpsSpectrum(wavelength, np.ones(wavelength.size, np.float32), np.ones(wavelength.size, np.float32))
    facts = grid_facts(Grid(1), real)
    assert list(facts) == ["n_grid", "n_valid", "n_window", "gap_start", "gap_stop"]
    assert (facts["n_grid"], facts["n_valid"], facts["n_window"]) == (327_680, 309_060, 312_501)
    assert (facts["gap_start"], facts["gap_stop"]) == (pytest.approx(5_303.64), pytest.approx(5_338.04))


def test_architecture_facts_of_the_released_network():
    """The paper's network: 327,680 px, 15 convolutions, a 512 × 20 bottleneck, 7,046,997 parameters, a
    65,551-px receptive field with positions 16,384 px (163.84 Å) apart."""
    paper = get_preset("paper")
    facts = architecture_facts(architecture_summary(paper), paper)
    assert {key: facts[key] for key in ("pixels", "convs", "bottleneck_channels", "bottleneck_positions", "flat",
                                        "latent_dim", "parameters", "rf_px", "jump_px")} == dict(
        pixels=327_680, convs=15, bottleneck_channels=512, bottleneck_positions=20, flat=10_240, latent_dim=128,
        parameters=7_046_997, rf_px=65_551, jump_px=16_384)
    assert facts["rf_angstrom"] == pytest.approx(655.51) and facts["jump_angstrom"] == pytest.approx(163.84)
    assert (facts["blue_angstrom"], facts["red_angstrom"]) == (pytest.approx(3_785.0), pytest.approx(6_910.0))
    assert facts["centre_angstrom"] == pytest.approx(5_347.5)
    assert facts["pixel_km_s"] == pytest.approx(0.01 / 5_347.5 * SPEED_OF_LIGHT_KMS)
    assert (facts["pixel_km_s_low"], facts["pixel_km_s_high"]) == (pytest.approx(0.01 / 6_910.0 * SPEED_OF_LIGHT_KMS),
                                                                   pytest.approx(0.01 / 3_785.0 * SPEED_OF_LIGHT_KMS))
    assert facts["training_gflop"] > facts["forward_gflop"] > 1.0


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_quoted_velocity_is_at_a_wavelength_of_the_presets_grid(name, monkeypatch):
    """c·Δλ/λ of each km/s fact gives back a λ between the grid's first and last valid pixel (a wavelength it
    covers), the single values at the grid's centre; the study window's pixels are 2.27–2.42 km/s."""
    monkeypatch.setattr(model_figures, "flops_per_spectrum",  # the FLOPs are not under test: skip the count
                        lambda config, device="cpu": dict(forward=1, training=3))
    preset = get_preset(name)
    grid = preset.data.grid
    covered = grid.wavelength[grid.mask]
    blue, red = covered.min(), covered.max()
    centre = (blue + red) / 2
    assert grid.mask[np.argmin(np.abs(grid.wavelength - centre))]  # the centre is not in the CCD gap
    summary = architecture_summary(preset)
    facts = architecture_facts(summary, preset)
    assert (facts["blue_angstrom"], facts["centre_angstrom"], facts["red_angstrom"]) == pytest.approx(
        (blue, centre, red), abs=1e-9)
    widths = {"pixel_km_s": grid.step_angstrom, "pixel_km_s_low": grid.step_angstrom,
              "pixel_km_s_high": grid.step_angstrom, "rf_km_s": facts["rf_angstrom"],
              "jump_km_s": facts["jump_angstrom"]}
    assert {key for key in facts if "km_s" in key} == set(widths)  # a new velocity must be checked here too
    wavelength = {key: SPEED_OF_LIGHT_KMS * width / facts[key] for key, width in widths.items()}
    tolerance = 1e-6  # Å: rounding only
    assert all(blue - tolerance <= value <= red + tolerance for value in wavelength.values()), wavelength
    assert wavelength["pixel_km_s_low"] == pytest.approx(red, abs=tolerance)
    assert wavelength["pixel_km_s_high"] == pytest.approx(blue, abs=tolerance)
    for key in ("pixel_km_s", "rf_km_s", "jump_km_s"):
        assert wavelength[key] == pytest.approx(centre, abs=tolerance), key
    if name == "study":  # 0.04 Å pixels over 4,960–5,288 Å: 2.268 … 2.418 km/s, within 0.005 of 2.27 and 2.42
        assert (facts["pixel_km_s_low"], facts["pixel_km_s_high"]) == (pytest.approx(2.27, abs=0.005),
                                                                       pytest.approx(2.42, abs=0.005))
        assert format_summary(summary)[name]["pixel width over the grid (km/s)"] == "2.27–2.42"


def test_paper_latent_facts_are_the_papers_numbers():
    assert paper_latent_facts() == {"n_informative": 6, "latent_dim": 128, "rv_mi_gmm": 1.51, "rv_mi_gmm_error": 0.02,
                                    "rv_mi_histogram": 1.22, "teff_mi_gmm": 1.33, "teff_mi_gmm_error": 0.02,
                                    "teff_mi_histogram": 1.33}


def test_label_node_facts_name_each_labels_node_and_its_mi():
    nodes = {"rv": LabelNode("rv", 3, 1.7, 0.02, 1.2, 0.03, True),
             "teff": LabelNode("teff", 5, 1.3, 0.01, 1.3, 0.02, True)}
    comparison = PaperComparison(informative=np.array([3, 5]), nodes=nodes, table=None)
    assert label_node_facts(comparison) == {"rv_node": 3, "rv_mi_ksg": 1.7, "rv_mi_ksg_error": 0.02,
                                            "teff_node": 5, "teff_mi_ksg": 1.3, "teff_mi_ksg_error": 0.01}
