"""The numbers the chapters glue into their text, from the library objects they describe."""

import numpy as np
import pytest

from specae.analysis.paper_comparison import LabelNode, PaperComparison
from specae.book.facts import architecture_facts, grid_facts, label_node_facts, paper_latent_facts
from specae.book.model_figures import architecture_summary
from specae.io.fits import HarpsSpectrum
from specae.spectra.grid import Grid
from specae.training.presets import get_preset


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
    assert facts["pixel_km_s"] == pytest.approx(0.01 / 5_500.0 * 299_792.458)
    assert facts["training_gflop"] > facts["forward_gflop"] > 1.0


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
