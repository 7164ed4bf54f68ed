"""Line-core errors on an RV-spread survey: a run's and PCA's, on the first spectrum of every validation star."""

import numpy as np
import pytest
import torch

import specae.analysis.analysis_cache as analysis_cache
from specae.analysis.bottleneck import line_core_mask, masked_l1
from specae.analysis.spread_lines import survey_line_cores, survey_pca_line_cores
from specae.model.autoencoder import AutoencoderOutput
from specae.training.datasets import load_first_spectra
from specae.training.presets import get_preset


class Drawing(torch.nn.Module):
    """A stand-in model that draws its input times ``scale`` (1: a perfect reconstruction)."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(scale))

    def forward(self, x):
        return AutoencoderOutput(reconstruction=x * self.scale, mu=x[:, 0, :2], logvar=None, z=x[:, 0, :2])


@pytest.fixture
def survey(tmp_path, monkeypatch):
    """The smoke survey with its velocities × 0.1, its first spectra rendered once, and half its stars held out."""
    monkeypatch.setenv("SPECAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(analysis_cache, "COMMITTED_DIR", tmp_path / "committed")
    config = get_preset("smoke", rv_scale=0.1).data
    spectra, _ = load_first_spectra(config)
    rendered = []

    def first_spectra():
        rendered.append(1)
        return spectra, np.arange(len(spectra))

    validation = np.unique(spectra.object_ids)[::2]
    return config, spectra, validation, first_spectra, rendered


def test_a_run_is_scored_on_the_validation_stars_line_cores_only(survey):
    config, spectra, validation, first_spectra, rendered = survey
    assert survey_line_cores(Drawing(1.0), config, validation, first_spectra) == 0.0  # a perfect drawing
    held = np.flatnonzero(np.isin(spectra.object_ids, validation) & ~np.asarray(spectra.degenerate))
    target, mask = spectra.flux[held].numpy(), spectra.mask[held].numpy()
    cores = line_core_mask(target, mask)
    # Drawing 0.9 × the flux misses each core pixel by 0.1 × its flux: the mean of that over the validation cores.
    expected = float(0.1 * target[cores].mean())
    assert survey_line_cores(Drawing(0.9), config, validation, first_spectra) == pytest.approx(expected, rel=1e-5)
    assert masked_l1(0.9 * target, target, mask) != pytest.approx(expected, rel=1e-3)  # the cores, not every pixel
    every = spectra.flux[~np.asarray(spectra.degenerate)].numpy()
    every_cores = line_core_mask(every, spectra.mask[~np.asarray(spectra.degenerate)].numpy())
    assert float(0.1 * every[every_cores].mean()) != pytest.approx(expected, rel=1e-3)  # nor every star's
    assert rendered == [1, 1]
    assert survey_line_cores(Drawing(0.9), config, validation) == pytest.approx(expected, rel=1e-5)  # cached
    assert rendered == [1, 1]


def test_pca_draws_the_cores_better_with_more_components_and_needs_both_kinds_of_star(survey):
    config, spectra, validation, first_spectra, _ = survey
    errors = [survey_pca_line_cores(config, validation, size, first_spectra) for size in (1, 4, 16)]
    assert errors[0] > errors[1] > errors[2] > 0  # nested components: each adds what the last could not draw
    with pytest.raises(ValueError, match="0 of the survey's .* stars are validation stars"):
        survey_line_cores(Drawing(1.0), config, np.array([-1]), first_spectra)
