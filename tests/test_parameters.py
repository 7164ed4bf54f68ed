"""Chapter parameters: a bad value fails at the top of the chapter, naming what is allowed."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from specae.book.parameters import check_parameters

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


@pytest.mark.parametrize("parameters, message", [
    (dict(preset="fast"), r"preset = 'fast': choose one of \['paper', 'smoke', 'study'\]"),
    (dict(latent_sizes=[0, 4]), r"latent_sizes = \[0, 4\]: use a non-empty list of integers ≥ 1"),
    (dict(latent_sizes=16), r"latent_sizes = 16: use a non-empty list"),
    (dict(latent_sizes=[]), r"latent_sizes = \[\]: use a non-empty list"),
    (dict(epochs=-3), r"epochs = -3: use an integer ≥ 1"),
    (dict(latent_dim=0), r"latent_dim = 0: use an integer ≥ 1"),
    (dict(device="gpu"), r"device = 'gpu': use one of auto, cpu, cuda, cuda:N, mps"),
    (dict(seed=1.5), r"seed = 1.5: use an integer ≥ 0"),
    (dict(beta=-0.1), r"beta = -0.1: use a number ≥ 0"),
    (dict(balanced="yes"), r"balanced = 'yes': use True or False"),
    (dict(mad_threshold=0), r"mad_threshold = 0: use a number > 0"),
])
def test_each_bad_parameter_is_named_with_what_is_allowed(parameters, message):
    with pytest.raises(ValueError, match=message):
        check_parameters(**parameters)


def test_good_parameters_pass_and_several_problems_are_all_named():
    check_parameters(preset="study", device="cuda:1", seed=0, latent_dim=None, latent_sizes=(2, 4), epochs=None,
                     beta=0, balanced=False, mad_threshold=0.02, rv_bin_width=10)
    with pytest.raises(ValueError, match=r"bad chapter parameters: preset = 'x'.*; seed = -1"):
        check_parameters(preset="x", seed=-1)
    with pytest.raises(TypeError, match=r"no check for parameter\(s\) \['latentsize'\]"):
        check_parameters(latentsize=4)


@pytest.mark.parametrize("chapter, options, message", [
    ("04_bottleneck", ["-y", "latent_sizes: 16"], "latent_sizes = 16: use a non-empty list"),
    ("03_training", ["-p", "epochs", "-2"], "epochs = -2: use an integer ≥ 1"),
])
def test_a_chapter_stops_in_its_first_cell_with_the_message(tmp_path, chapter, options, message):
    result = subprocess.run([sys.executable, "-m", "papermill", "--no-progress-bar", "-k", "python3",
                             str(CHAPTERS / f"{chapter}.ipynb"), str(tmp_path / "out.ipynb"), *options],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert f"bad chapter parameter: {message}" in result.stderr
    executed = nbformat.read(tmp_path / "out.ipynb", 4)
    errors = [i for i, cell in enumerate(executed.cells) if cell.cell_type == "code"
              and any(o.get("output_type") == "error" for o in cell.get("outputs", []))]
    injected = next(i for i, cell in enumerate(executed.cells)
                    if "injected-parameters" in cell.metadata.get("tags", []))
    first_code = next(i for i in range(injected + 1, len(executed.cells)) if executed.cells[i].cell_type == "code")
    assert errors == [first_code]  # the first cell after the parameters, before any data or training
