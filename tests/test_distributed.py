"""Data-parallel training: torchrun with 2 CPU processes (gloo) takes the same steps as 1 process with the
combined batch; the pieces that make it so (batch shards, loss shares) are checked on their own."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from specae import get_preset, load_synthetic
from specae.model.autoencoder import SpectrumAutoencoder, masked_l1_kl_loss
from specae.training.distributed import Ranks, check_batch_size

CPU = torch.device("cpu")


@pytest.mark.parametrize("n", [5, 16, 17])
def test_shards_cover_a_batch_once_in_order(n):
    batch = np.arange(100, 100 + n)
    parts = [Ranks(rank=r, world_size=3, device=CPU).shard(batch) for r in range(3)]
    assert np.array_equal(np.concatenate([indices for indices, _ in parts]), batch)
    assert [offset for _, offset in parts] == [0, len(parts[0][0]), len(parts[0][0]) + len(parts[1][0])]
    assert max(len(p) for p, _ in parts) - min(len(p) for p, _ in parts) <= 1


def test_loss_shares_of_slices_add_up_to_the_whole_batch():
    """Each slice's terms, normalised by the batch's valid pixels and spectra, sum to the batch's terms
    (float32 tolerance 1e-6 relative), also when the slices hold different numbers of valid pixels."""
    preset = get_preset("smoke")
    data = load_synthetic(preset.data)
    torch.manual_seed(0)
    model = SpectrumAutoencoder(preset.model).eval()
    flux, mask = data.batch(np.arange(7), CPU)
    mask[:2, :300] = False
    with torch.no_grad():
        whole = masked_l1_kl_loss(model(flux), flux, mask, beta=0.5)
        n_valid = mask.sum()
        shares = [masked_l1_kl_loss(model(flux[part]), flux[part], mask[part], 0.5, n_valid=n_valid, n_spectra=7)
                  for part in (slice(0, 3), slice(3, 7))]
    for name in ("total", "reconstruction", "kl"):
        total = sum(getattr(share, name) for share in shares)
        assert torch.allclose(total, getattr(whole, name), rtol=1e-6, atol=0), name


def test_a_batch_smaller_than_the_process_count_is_refused():
    with pytest.raises(ValueError, match="batch_size 1 is smaller than the 2 processes"):
        check_batch_size(1, Ranks(rank=0, world_size=2, device=CPU))


def _train_command(out, *launcher):
    return [*launcher, "-m", "specae", "train", "--preset", "smoke", "--device", "cpu", "--out", str(out),
            "--no-progress"]


@pytest.mark.slow
def test_torchrun_with_two_processes_matches_one_process_with_the_combined_batch(tmp_path):
    """Smoke preset, 2 epochs of 6 steps (batches of 15 spectra split 8 + 7 over the ranks): the weights
    agree within 1e-6 (observed ≈ 5e-8; float sums in another order) and so do the recorded losses.

    The L1 terms are means of non-negative numbers, so the weights' relative difference carries over to them
    unamplified: rel 1e-5. The KL is not: each latent's term 1 + log σ² − μ² − σ² cancels to ≈ 1e-4 from
    numbers of order 1, so its float32 rounding is absolute, at most 4 ulp(1) per term (three sums and the
    exp). Half the sum over the latents, in each of the two runs, bounds the difference by
    latent_dim · 4 · eps32 (3.8e-6 for 8 latents; observed 3.5e-8, where rel 1e-5 had failed at 2.7e-5)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    one = subprocess.run(_train_command(tmp_path / "one", sys.executable), env=env, capture_output=True, text=True,
                         timeout=600)
    assert one.returncode == 0, one.stderr
    two = subprocess.run(_train_command(tmp_path / "two", sys.executable, "-m", "torch.distributed.run", "--standalone",
                                        "--nproc_per_node=2"), env=env, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("checkpoint.pt: step 12, epoch 2 of 2") == 1  # rank 0 reports once
    states = [torch.load(tmp_path / run / "checkpoint.pt", weights_only=True) for run in ("one", "two")]
    assert states[0]["step"] == states[1]["step"] == 12
    for name, tensor in states[0]["model"].items():
        assert torch.allclose(states[1]["model"][name], tensor, rtol=0, atol=1e-6), name
    kl_rounding = get_preset("smoke").model.latent_dim * 4 * torch.finfo(torch.float32).eps
    for one_epoch, two_epochs in zip(states[0]["history"], states[1]["history"], strict=True):
        for key in ("train_loss", "validation_reconstruction", "train_eval_reconstruction"):
            assert two_epochs[key] == pytest.approx(one_epoch[key], rel=1e-5), key
        assert two_epochs["validation_kl"] == pytest.approx(one_epoch["validation_kl"], rel=0, abs=kl_rounding)
