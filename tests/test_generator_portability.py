"""The generator renders the same spectra on other CPU kernels: a few study spectra rendered here and in a child
process with torch, oneDNN and MKL capped at AVX2 (what `make test` once checked by rendering the whole survey again
under the caps for the notebook check)."""

import os
import subprocess
import sys
import textwrap

import numpy as np

from specae.synth.survey import SyntheticSurvey
from specae.training.presets import get_preset

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
INDICES = [0, 1, 977, 4242, 9999]  # the survey's ends and a few between: several stars and spectral types


def test_spectra_rendered_on_avx2_kernels_equal_these_to_float32_rounding(tmp_path):
    """The rendered flux agrees within 1e-5 of each spectrum's largest value: float32 sums of the lines' profiles in
    another order differ by a few units in the last place (2⁻²⁴ ≈ 6e-8 relative, over up to ~100 overlapping terms);
    a change to what the generator computes moves spectra by far more (a line's depth is ≥ 1e-3 of the continuum)."""
    preset = get_preset("study")
    here = SyntheticSurvey(preset.data.synthetic, preset.data.grid).render(np.array(INDICES)).numpy()
    script = textwrap.dedent(f"""
        import numpy as np, torch
        from specae.synth.survey import SyntheticSurvey
        from specae.training.presets import get_preset
        print(torch.backends.cpu.get_cpu_capability())
        preset = get_preset("study")
        flux = SyntheticSurvey(preset.data.synthetic, preset.data.grid).render(np.array({INDICES})).numpy()
        np.save({str(tmp_path / "avx2.npy")!r}, flux)
    """)
    child = subprocess.run([sys.executable, "-c", script], env={**os.environ, **AVX2, "OMP_NUM_THREADS": "1"},
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.split()[0] in ("AVX2", "DEFAULT")  # the cap took effect (never AVX512)
    there = np.load(tmp_path / "avx2.npy")
    scale = np.abs(here).max(axis=1, keepdims=True)
    assert np.all(np.abs(there - here) <= 1e-5 * scale), float((np.abs(there - here) / scale).max())
