"""Training faults: SIGKILL at a random moment, a truncated checkpoint, another library version."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from specae import get_preset, load_checkpoint, load_synthetic, train
from specae.training.checkpoints import CHECKPOINT_NAME, PREVIOUS_CHECKPOINT_NAME

EPOCHS = 6
_CHILD = """
import sys, torch, specae
torch.set_num_threads(1)
specae.train(specae.get_preset("smoke", epochs={epochs}), sys.argv[1], device="cpu", progress=False)
"""


@pytest.fixture(scope="module", autouse=True)
def _one_thread_here(one_thread):
    """Every test of this module runs with one torch thread (see conftest.py)."""


@pytest.fixture(scope="module")
def smoke_data(one_thread):
    return load_synthetic(get_preset("smoke").data)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, smoke_data):
    return train(get_preset("smoke", epochs=EPOCHS), tmp_path_factory.mktemp("whole"), device="cpu", progress=False,
                 data=smoke_data)


def assert_same_weights(a, b):
    for name, tensor in a.model.state_dict().items():
        assert torch.equal(tensor, b.model.state_dict()[name]), name


def epoch_on_disk(folder) -> int:
    """The newest epoch saved (a kill between moving the latest aside and writing the next leaves only the
    previous one)."""
    epochs = [0]
    for name in (CHECKPOINT_NAME, PREVIOUS_CHECKPOINT_NAME):
        with contextlib.suppress(Exception):  # absent, or being replaced right now
            epochs.append(torch.load(folder / name, weights_only=True)["epoch"])
    return max(epochs)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_at_a_random_moment_then_resume_gives_the_same_weights(tmp_path, smoke_data, uninterrupted, seed):
    rng = np.random.default_rng(seed)
    after_epoch, delay = int(rng.integers(1, EPOCHS - 1)), float(rng.uniform(0.0, 0.3))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    child = subprocess.Popen([sys.executable, "-c", _CHILD.format(epochs=EPOCHS), str(tmp_path)], env=env)
    deadline = time.monotonic() + 240
    while epoch_on_disk(tmp_path) < after_epoch and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert epoch_on_disk(tmp_path) >= after_epoch
    resumed = train(get_preset("smoke", epochs=EPOCHS), tmp_path, device="cpu", progress=False, data=smoke_data)
    assert [h["epoch"] for h in resumed.history] == list(range(1, EPOCHS + 1))
    assert_same_weights(resumed, uninterrupted)
    assert [h["validation_loss"] for h in resumed.history] == [h["validation_loss"] for h in uninterrupted.history]


def test_a_truncated_checkpoint_falls_back_to_the_one_before(tmp_path, smoke_data, uninterrupted):
    train(get_preset("smoke", epochs=3), tmp_path, device="cpu", progress=False, data=smoke_data)
    assert torch.load(tmp_path / PREVIOUS_CHECKPOINT_NAME, weights_only=True)["epoch"] == 2
    latest = tmp_path / CHECKPOINT_NAME
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    with pytest.warns(RuntimeWarning, match=r"checkpoint.pt is unreadable .*; resuming from checkpoint.prev.pt"):
        resumed = train(get_preset("smoke", epochs=EPOCHS), tmp_path, device="cpu", progress=False, data=smoke_data)
    assert_same_weights(resumed, uninterrupted)
    latest.write_bytes(b"")
    (tmp_path / PREVIOUS_CHECKPOINT_NAME).unlink()
    with pytest.raises(ValueError, match="unreadable .* no checkpoint.prev.pt to fall back to"):
        train(get_preset("smoke", epochs=EPOCHS + 1), tmp_path, device="cpu", progress=False, data=smoke_data)


def test_a_checkpoint_of_another_version_or_configuration_is_refused(tmp_path, smoke_data):
    train(get_preset("smoke", epochs=1), tmp_path, device="cpu", progress=False, data=smoke_data)
    path = tmp_path / CHECKPOINT_NAME
    with pytest.raises(ValueError, match=r"differs in \['train.beta'\]: train.beta: checkpoint 0.001, requested 0.0"):
        train(get_preset("smoke", epochs=2, beta=0.0), tmp_path, device="cpu", progress=False, data=smoke_data)
    state = torch.load(path, weights_only=True)
    state["specae_version"] = "0.0.1"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"written by specae 0.0.1, this is specae"):
        train(get_preset("smoke", epochs=2), tmp_path, device="cpu", progress=False, data=smoke_data)
    with pytest.raises(ValueError, match=r"written by specae 0.0.1, this is specae .*load it with that version"):
        load_checkpoint(path)
