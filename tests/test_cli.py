"""The command line: train, resume and refuse bad settings with a message."""

import torch

from specae.__main__ import main


def test_train_then_resume_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--preset", "smoke", "--out", str(out), "--device", "cpu", "--no-progress",
                 "--set", "epochs=1", "--set", "latent_dim=4"]) == 0
    assert "step 6, epoch 1 of 1, validation reconstruction" in capsys.readouterr().out
    assert main(["train", "--preset", "smoke", "--out", str(out), "--device", "cpu", "--no-progress",
                 "--set", "epochs=2", "--set", "latent_dim=4"]) == 0
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and state["preset"]["model"]["latent_dim"] == 4


def test_bad_settings_exit_with_a_message(tmp_path, capsys):
    assert main(["train", "--preset", "smoke", "--out", str(tmp_path), "--set", "latent_size=4"]) == 2
    assert "unknown override(s) ['latent_size']" in capsys.readouterr().err
    assert main(["train", "--preset", "smoke", "--out", str(tmp_path), "--device", "tpu"]) == 2
    assert "unknown device 'tpu'" in capsys.readouterr().err
    assert main(["train", "--preset", "smoke", "--out", str(tmp_path), "--set", "latent_dim"]) == 2
    assert "must look like KEY=VALUE" in capsys.readouterr().err
