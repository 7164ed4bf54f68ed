"""Latent means with their labels: degenerate spectra are left out, labels follow the encoded spectra."""

import numpy as np
import pytest
import torch
from astropy.table import Table

from specae.analysis import encode_labelled, encode_means, usable
from specae.analysis.latents import one_per_star
from specae.spectra.spectra_set import SpectraSet


class FirstPixels(torch.nn.Module):
    """A stand-in encoder: μ = the first two pixels of each spectrum."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def encode(self, x):  # (n, 1, L) → μ (n, 2), log σ² (n, 2)
        return x[:, 0, :2] * self.scale, torch.zeros(x.shape[0], 2)


FLUX = torch.arange(30, dtype=torch.float32).reshape(5, 6)
DATA = SpectraSet(flux=FLUX, mask=torch.ones_like(FLUX, dtype=torch.bool),
                  degenerate=np.array([False, True, False, False, True]),
                  labels=Table({"rv": [-10, 0, 10, 20, 30], "teff": [5000.0, 5100.0, 5200.0, 5300.0, 5400.0]}))


def test_usable_keeps_the_non_degenerate_spectra_in_order():
    np.testing.assert_array_equal(usable(DATA), [0, 2, 3])
    np.testing.assert_array_equal(usable(DATA, [4, 3, 1, 0]), [3, 0])
    assert usable(DATA).dtype == np.int64


def test_encode_labelled_pairs_each_code_with_its_labels():
    encoded = encode_labelled(FirstPixels(), DATA, ("rv", "teff"))
    np.testing.assert_array_equal(encoded.indices, [0, 2, 3])
    np.testing.assert_array_equal(encoded.mu, [[0.0, 1.0], [12.0, 13.0], [18.0, 19.0]])
    assert encoded.labels["rv"].tolist() == [-10.0, 10.0, 20.0] and encoded.labels["rv"].dtype == np.float64
    assert encoded.labels["teff"].tolist() == [5000.0, 5200.0, 5300.0]
    np.testing.assert_array_equal(encoded.mu, encode_means(FirstPixels(), DATA))


def test_encode_labelled_takes_a_subset():
    encoded = encode_labelled(FirstPixels(), DATA, ("teff",), indices=[3, 4])
    np.testing.assert_array_equal(encoded.indices, [3])
    assert list(encoded.labels) == ["teff"] and encoded.labels["teff"].tolist() == [5300.0]


def test_one_per_star_keeps_the_first_usable_spectrum_of_each_star():
    labels = Table({"object_id": [0, 0, 1, 2, 2, 2, 3]})
    data = SpectraSet(flux=torch.zeros(7, 4), mask=torch.ones(7, 4, dtype=torch.bool),
                      degenerate=np.array([True, False, False, False, True, False, True]), labels=labels)
    np.testing.assert_array_equal(one_per_star(data), [1, 2, 3])  # star 3 has no usable spectrum
    np.testing.assert_array_equal(one_per_star(data, [5, 4, 2]), [2, 5])


def test_the_per_node_kl_adds_up_to_the_kl_the_training_loop_evaluates():
    """The nodes' KL, averaged over the spectra, sums to the KL that evaluation reports for them (the same terms
    summed in another order: float32 rounding, 1e-5 relative); a deterministic model has none."""
    from specae import get_preset, load_synthetic
    from specae.analysis.latents import node_kl
    from specae.model.autoencoder import SpectrumAutoencoder
    from specae.training.loop import evaluate

    preset = get_preset("smoke")
    data = load_synthetic(preset.data)
    torch.manual_seed(0)
    model = SpectrumAutoencoder(preset.model)
    indices = usable(data)
    per_node = node_kl(model, data, indices)
    assert per_node.shape == (preset.model.latent_dim,) and np.all(per_node >= 0)
    evaluation = evaluate(model, data, indices, 0.0, torch.device("cpu"))
    assert per_node.sum() == pytest.approx(evaluation.kl, rel=1e-5)
    with pytest.raises(ValueError, match="a deterministic autoencoder has no posterior"):
        node_kl(SpectrumAutoencoder(get_preset("smoke", variational=False).model), data, indices)
