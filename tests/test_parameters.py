"""Chapter parameters: a bad value fails at the top of the chapter, naming what is allowed."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from specae.book.parameters import check_parameters

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


# Every documented invalid value of every chapter parameter: the message names the parameter, the value, the
# problem, the allowed range and a fix.
@pytest.mark.parametrize("parameters, message", [
    (dict(preset="fast"), (r"preset = 'fast': not allowed; allowed: one of 'paper', 'smoke', 'study'; "
                          r"fix: -p preset study")),
    (dict(device="gpu"), r"device = 'gpu': not allowed; allowed: one of auto, cpu, cuda, cuda:N, mps; fix: -p device"),
    (dict(seed=1.5), r"seed = 1.5: not allowed; allowed: an integer from 0 to 4294967295; fix: -p seed 0"),
    (dict(seed=-1), r"seed = -1: not allowed; allowed: an integer from 0"),
    (dict(seed=2**32), r"seed = 4294967296: not allowed"),
    (dict(latent_dim=0), (r"latent_dim = 0: not allowed; allowed: None \(the preset's\) or an integer ≥ 1; "
                         r"fix: -p latent_dim 16")),
    (dict(latent_sizes=[0, 4]), (r"latent_sizes = \[0, 4\]: 0 not allowed; allowed: a non-empty list of distinct "
                                r"integers ≥ 1; fix: -y \"latent_sizes: \[4, 16\]\"")),
    (dict(latent_sizes=[-2]), r"latent_sizes = \[-2\]: -2 not allowed"),
    (dict(latent_sizes=16), r"latent_sizes = 16: not a list; allowed: a non-empty list"),
    (dict(latent_sizes=[]), r"latent_sizes = \[\]: the list is empty; allowed: a non-empty list"),
    (dict(latent_sizes=[4, 16, 4]), r"latent_sizes = \[4, 16, 4\]: 4 given more than once"),
    (dict(seeds=[0, 1, 0]), (r"seeds = \[0, 1, 0\]: 0 given more than once; allowed: a non-empty list of distinct "
                            r"integers from 0 to 4294967295; fix: -y \"seeds: \[0, 1, 2\]\"")),
    (dict(seeds=[]), r"seeds = \[\]: the list is empty"),
    (dict(betas=[1e-3, -1e-3]), (r"betas = \[0.001, -0.001\]: -0.001 not allowed; allowed: a non-empty list of "
                                r"distinct finite numbers > 0")),
    (dict(betas=[0.0]), r"betas = \[0.0\]: 0.0 not allowed"),
    (dict(retrain="no"), r"retrain = 'no': not allowed; allowed: True or False; fix: -p retrain True"),
    (dict(epochs=-3), r"epochs = -3: not allowed; allowed: None \(the preset's\) or an integer ≥ 1"),
    (dict(epochs=0), r"epochs = 0: not allowed"),
    (dict(beta=-0.1), r"beta = -0.1: not allowed; allowed: None \(the preset's\) or a finite number ≥ 0"),
    (dict(beta=float("nan")), r"beta = nan: not allowed"),
    (dict(balanced="yes"), r"balanced = 'yes': not allowed; allowed: True or False"),
    (dict(mad_threshold=0), r"mad_threshold = 0: not allowed; allowed: a finite number > 0"),
    (dict(rv_bin_width=-5.0), (r"rv_bin_width = -5.0: not allowed; allowed: a finite number > 0 \(km/s\); "
                              r"fix: -p rv_bin_width 10")),
    (dict(rv_bin_width=float("inf")), r"rv_bin_width = inf: not allowed"),
    (dict(rv_scales=[0.1, 1]), (r"rv_scales = \[0.1, 1\]: 1 not allowed; allowed: a non-empty list of distinct numbers "
                               r"between 0 and 1, both excluded")),
    (dict(rv_scales=[0.0]), r"rv_scales = \[0.0\]: 0.0 not allowed"),
    (dict(rv_scales=[0.1, 0.1]), r"rv_scales = \[0.1, 0.1\]: 0.1 given more than once"),
    (dict(spread_seeds=[-1]), r"spread_seeds = \[-1\]: -1 not allowed"),
    (dict(variant_budget=0), (r"variant_budget = 0: not allowed; allowed: an integer ≥ 1 \(a multiple of the preset's "
                              r"steps\); fix: -p variant_budget 2")),
])
def test_each_bad_parameter_is_named_with_what_is_allowed(parameters, message):
    with pytest.raises(ValueError, match=message):
        check_parameters(**parameters)


def test_good_parameters_pass_and_several_problems_are_all_named():
    check_parameters(preset="study", device="cpu", seed=2**32 - 1, latent_dim=None, latent_sizes=(2, 4), epochs=None,
                     beta=0, balanced=False, mad_threshold=0.02, rv_bin_width=10, seeds=[3], betas=[10.0],
                     rv_scales=[1e-3, 0.999], spread_seeds=[0, 7], variant_budget=1)
    with pytest.raises(ValueError, match=r"bad chapter parameters: preset = 'x'.* \| seed = -1"):
        check_parameters(preset="x", seed=-1)
    with pytest.raises(TypeError, match=r"no check for parameter\(s\) \['latentsize'\]"):
        check_parameters(latentsize=4)


@pytest.mark.parametrize("chapter, options, message", [
    ("04_bottleneck", ["-y", "latent_sizes: 16"], "latent_sizes = 16: not a list; allowed: a non-empty list"),
    ("05_disentanglement", ["-y", "seeds: [1, 1]"], "seeds = [1, 1]: 1 given more than once"),
    ("03_training", ["-p", "preset", "paper"], ("preset = 'paper': its survey (267,361 spectra × 327,680 px, 408 GiB) "
                                               "does not fit in the 4 GiB this chapter may hold in memory")),
    ("07_real_spectra", ["-p", "epochs", "1"],
     "epochs: not a parameter of this chapter; allowed: preset, device, seed, latent_dim, beta, retrain; fix: leave"),
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


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here, so 'cuda' is a good device")
def test_a_device_that_is_not_available_here_is_refused_before_any_work():
    with pytest.raises(ValueError, match=r"device = 'cuda': not available here \(.*CUDA is not available here.*\); "
                                         r"allowed: one of auto, cpu, cuda, cuda:N, mps; fix: -p device auto"):
        check_parameters(device="cuda")
