"""Named seed streams: every kind of draw has its own stream, and with the presets' default seeds no two
streams share a seed."""

import itertools

import pytest

from specae.seeding import Stream, derive_seed, torch_generator
from specae.training.presets import PRESETS, get_preset

MI_REPLICATES = 200  # the MI tables' bootstrap and null replicates (100 + 100 by default)


def _default_seeds(preset) -> dict[Stream, set[int]]:
    """Every seed each stream derives in a run of ``preset`` and its analysis, with the default seeds."""
    synthetic, train = preset.data.synthetic, preset.train
    steps = train.epochs * -(-(train.samples_per_epoch or synthetic.n_spectra) // train.batch_size)
    mi_seed = 0
    return {
        Stream.POPULATION: {derive_seed(synthetic.seed, Stream.POPULATION)},
        Stream.SPECTRUM_NOISE: {derive_seed(synthetic.seed, Stream.SPECTRUM_NOISE, i)
                                for i in range(min(synthetic.n_spectra, 5_000))},
        Stream.SPLIT: {derive_seed(preset.data.split_seed, Stream.SPLIT)},
        Stream.WEIGHTS: {derive_seed(train.seed, Stream.WEIGHTS)},
        Stream.SAMPLER: {derive_seed(train.seed, Stream.SAMPLER, epoch) for epoch in range(train.epochs + 1)},
        Stream.VAE_NOISE: {derive_seed(train.seed, Stream.VAE_NOISE, step) for step in range(min(steps, 5_000))},
        Stream.EVAL_VALIDATION: {derive_seed(preset.data.split_seed, Stream.EVAL_VALIDATION)},
        Stream.EVAL_TRAINING: {derive_seed(preset.data.split_seed, Stream.EVAL_TRAINING)},
        Stream.MI_PAIR: {derive_seed(mi_seed, Stream.MI_PAIR, label, node) for label in range(8) for node in range(16)},
        Stream.MI_JITTER: {derive_seed(mi_seed, Stream.MI_JITTER)},
        Stream.MI_BOOTSTRAP: {derive_seed(mi_seed, Stream.MI_BOOTSTRAP, r) for r in range(MI_REPLICATES)},
        Stream.MI_NULL: {derive_seed(mi_seed, Stream.MI_NULL, r) for r in range(MI_REPLICATES)},
    }


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_default_streams_are_pairwise_distinct(name):
    seeds = _default_seeds(get_preset(name))
    assert set(seeds) == set(Stream), "every stream is exercised"
    for (a, seeds_a), (b, seeds_b) in itertools.combinations(seeds.items(), 2):
        assert not seeds_a & seeds_b, f"{a.name} and {b.name} share seeds"


def test_the_old_collision_is_gone():
    # With integer keys, derive_seed(0, 1) was the population draw, the initial weights, epoch 1's sampler
    # draws and spectrum 1's noise at once.
    seeds = [derive_seed(0, Stream.POPULATION), derive_seed(0, Stream.WEIGHTS), derive_seed(0, Stream.SAMPLER, 1),
             derive_seed(0, Stream.SPECTRUM_NOISE, 1)]
    assert len(set(seeds)) == 4


def test_a_stream_must_be_named():
    with pytest.raises(TypeError, match="Stream"):
        derive_seed(0, 1)
    with pytest.raises(ValueError, match="non-negative"):
        derive_seed(0, Stream.SAMPLER, -1)


def test_seeds_are_stable_and_generators_follow_them():
    assert derive_seed(0, Stream.WEIGHTS) == derive_seed(0, Stream.WEIGHTS)
    assert 0 <= derive_seed(7, Stream.SAMPLER, 3) < 2**63
    one, two = torch_generator(5, Stream.VAE_NOISE, 2), torch_generator(5, Stream.VAE_NOISE, 2)
    assert one.initial_seed() == two.initial_seed() == derive_seed(5, Stream.VAE_NOISE, 2)
