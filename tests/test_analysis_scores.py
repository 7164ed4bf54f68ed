"""Disentanglement scores (MIG, SAP, DCI) and label probes on codes with known answers.

Factors are 4 independent uniforms; "identity" codes are the factors themselves, "rotated" codes mix them
by an orthogonal matrix, which keeps all information but entangles it. Thresholds sit well clear of the
measured values (quoted in each test, seeds fixed), so they check the definitions, not the noise.
"""

import numpy as np
import pytest
from astropy import units as u
from astropy.table import MaskedColumn

import specae.analysis.probes as probes
from specae.analysis.disentanglement import (
    dci_completeness_per_factor,
    dci_disentanglement,
    disentanglement_scores,
    mig,
    sap,
)
from specae.analysis.probes import object_folds, probe_labels

N_MIG = 5_000  # MIG / SAP are cheap; a large N keeps the 20×20-bin MI bias (≈ 0.04 nats) small
N_DCI = 2_000  # gradient boosting costs ≈ 0.3 s per factor at this size
SPECTRA_PER_OBJECT = 10
COS45 = np.cos(np.pi / 4)
PAIR_ROTATION = np.array([[COS45, -COS45], [COS45, COS45]])
HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0  # orthogonal


def uniform_factors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 4))


def as_dict(values: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[:, k] for k, name in enumerate(("teff", "logg", "feh", "rv")[: values.shape[1]])}


def object_ids(n: int) -> np.ndarray:
    return np.repeat(np.arange(n // SPECTRA_PER_OBJECT), SPECTRA_PER_OBJECT)


def rotate_first_pair(values: np.ndarray) -> np.ndarray:
    return np.column_stack([values[:, :2] @ PAIR_ROTATION, values[:, 2:]])


# ------------------------------------------------------------------------------------------------ MIG


@pytest.mark.parametrize("strategy", ["equal_width", "equal_frequency"])
def test_mig_identity_codes_score_high(strategy):
    values = uniform_factors(N_MIG)
    assert mig(values, as_dict(values), n_bins=20, strategy=strategy) >= 0.9  # measured 0.985 / 0.986


def test_mig_constant_and_noise_codes_score_low():
    values = uniform_factors(N_MIG)
    assert mig(np.ones((N_MIG, 4)), as_dict(values)) == 0.0
    noise = np.random.default_rng(1).normal(size=(N_MIG, 4))
    assert mig(noise, as_dict(values)) <= 0.2  # measured 0.000


def test_mig_rotation_lowers_the_score():
    values = uniform_factors(N_MIG)
    identity = mig(values, as_dict(values))
    pair = mig(rotate_first_pair(values), as_dict(values))  # measured 0.496: two factors fully entangled
    everything = mig(values @ HADAMARD, as_dict(values))  # measured 0.003
    assert identity - pair >= 0.3
    assert everything <= 0.1


# ------------------------------------------------------------------------------------------------ SAP


def test_sap_identity_high_rotated_low():
    values = uniform_factors(N_MIG)
    assert sap(values, as_dict(values)) >= 0.8  # measured 0.999
    assert sap(values @ HADAMARD, as_dict(values)) <= 0.1  # measured 0.007: every R² ≈ 1/4
    assert sap(rotate_first_pair(values), as_dict(values)) <= 0.6  # measured 0.508
    assert sap(np.ones((N_MIG, 4)), as_dict(values)) == 0.0


# ------------------------------------------------------------------------------------------------ DCI


def test_dci_formulas_on_known_importance_matrices():
    assert dci_disentanglement(np.eye(4)) == pytest.approx(1.0)
    assert dci_disentanglement(np.ones((4, 4))) == pytest.approx(0.0, abs=1e-12)
    assert dci_completeness_per_factor(np.eye(3)) == pytest.approx(np.ones(3))
    assert dci_completeness_per_factor(np.ones((3, 2))) == pytest.approx(np.zeros(2), abs=1e-12)
    # An unused latent (zero row) does not count against disentanglement; an unexplained factor scores 0.
    assert dci_disentanglement(np.array([[1.0, 0.0], [0.0, 0.0]])) == pytest.approx(1.0)
    assert dci_completeness_per_factor(np.array([[1.0, 0.0], [0.0, 0.0]])) == pytest.approx([1.0, 0.0])


@pytest.fixture(scope="module")
def identity_scores():
    values = uniform_factors(N_DCI)
    return disentanglement_scores(values, as_dict(values), groups=object_ids(N_DCI), seed=0)


def test_dci_identity_codes(identity_scores):
    scores = identity_scores
    assert scores.dci_disentanglement >= 0.9  # measured 1.000
    assert scores.dci_completeness >= 0.9  # measured 1.000
    assert scores.dci_informativeness >= 0.95  # mean held-out R², measured ≥ 0.999
    assert scores.dci_nrmse <= 0.2
    assert scores.mig >= 0.9 and scores.sap >= 0.8
    assert scores.importance.shape == (4, 4)
    assert np.argmax(scores.importance, axis=0) == pytest.approx(np.arange(4))
    assert set(scores.per_factor) == {"teff", "logg", "feh", "rv"}


@pytest.mark.parametrize("regressor", ["gradient_boosting", "lasso"])
def test_dci_rotated_pair_is_entangled_but_informative(regressor):
    values = uniform_factors(N_DCI)[:, :2]
    scores = disentanglement_scores(values @ PAIR_ROTATION, as_dict(values), groups=object_ids(N_DCI),
                                    regressor=regressor)
    assert scores.dci_disentanglement <= 0.5  # measured 0.000 (GB) / 0.000 (lasso); theory 0
    assert scores.dci_completeness <= 0.5  # measured 0.001 / 0.000
    assert scores.dci_informativeness >= 0.9  # a rotation loses no information: measured 0.991 / 1.000


def test_dci_test_split_is_object_disjoint(identity_scores):
    groups = object_ids(N_DCI)
    test = identity_scores.test_indices
    train = np.setdiff1d(np.arange(N_DCI), test)
    assert len(test) > 0 and not set(groups[test]) & set(groups[train])


def test_constant_latents_are_dropped_without_nan():
    values = uniform_factors(500)[:, :2]
    codes = np.column_stack([values[:, 0], np.full(500, 3.0), values[:, 1]])
    scores = disentanglement_scores(codes, as_dict(values), groups=object_ids(500))
    assert list(scores.dropped_latents) == [1] and list(scores.latent_indices) == [0, 2]
    numbers = [scores.mig, scores.sap, scores.dci_disentanglement, scores.dci_completeness, scores.dci_informativeness]
    assert np.all(np.isfinite(numbers)) and np.all(np.isfinite(scores.importance))
    assert scores.dci_disentanglement >= 0.9

    dead = disentanglement_scores(np.zeros((500, 3)), as_dict(values), groups=object_ids(500))
    assert (dead.mig, dead.sap, dead.dci_disentanglement, dead.dci_completeness) == (0.0, 0.0, 0.0, 0.0)
    assert dead.dci_informativeness <= 0.0 and np.isfinite(dead.dci_informativeness)
    assert list(dead.dropped_latents) == [0, 1, 2]


def test_constant_factor_is_a_clear_error():
    values = uniform_factors(200)
    with pytest.raises(ValueError, match="factor 'airmass' is constant"):
        disentanglement_scores(values, {"teff": values[:, 0], "airmass": np.ones(200)})


def test_disentanglement_scores_are_deterministic():
    values = uniform_factors(1_000)
    codes = rotate_first_pair(values) + 0.05 * np.random.default_rng(2).normal(size=values.shape)
    first = disentanglement_scores(codes, as_dict(values), groups=object_ids(1_000), seed=4)
    second = disentanglement_scores(codes, as_dict(values), groups=object_ids(1_000), seed=4)
    assert (first.mig, first.sap, first.dci_disentanglement, first.dci_completeness, first.dci_informativeness) == (
        second.mig, second.sap, second.dci_disentanglement, second.dci_completeness, second.dci_informativeness)
    assert np.array_equal(first.importance, second.importance)
    assert np.array_equal(first.test_indices, second.test_indices)


# --------------------------------------------------------------------------------------------- probes

N_PROBE = 2_000
NOISE = 0.1


@pytest.fixture(scope="module")
def planted():
    """Codes (N, 8), object ids, and two planted labels: linear (with a unit) and sin(2 z0)."""
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(N_PROBE, 8))
    linear = 3.0 * codes[:, 0] - 2.0 * codes[:, 1] + NOISE * rng.normal(size=N_PROBE)
    curved = np.sin(2.0 * codes[:, 0]) + 0.05 * rng.normal(size=N_PROBE)
    groups = object_ids(N_PROBE)
    results = probe_labels(codes, {"teff": linear * u.K, "curve": curved}, groups, n_splits=5, seed=0)
    return codes, groups, {(r.label, r.model): r for r in results}


def test_probe_recovers_a_planted_linear_label(planted):
    _, _, results = planted
    linear = results["teff", "linear"]
    assert linear.r2 >= 0.95  # measured 0.9992
    assert linear.rmse == pytest.approx(NOISE, rel=0.1)  # measured 0.0991
    assert linear.unit == u.K and linear.predictions_quantity.unit == u.K
    assert results["curve", "linear"].unit is None


def test_nonlinear_probe_beats_linear_on_a_curved_label(planted):
    _, _, results = planted
    linear, nonlinear = results["curve", "linear"], results["curve", "nonlinear"]
    assert nonlinear.r2 >= 0.9  # measured 0.982
    assert linear.r2 <= 0.3  # measured 0.178
    assert nonlinear.rmse <= 0.5 * linear.rmse  # measured 0.097 vs 0.653


def test_probe_folds_are_object_disjoint(planted):
    _, groups, results = planted
    for result in results.values():
        assert sorted(set(result.test_fold)) == [0, 1, 2, 3, 4]
        for group in np.unique(groups):
            assert len(set(result.test_fold[groups == group])) == 1


def test_probe_never_trains_on_a_test_object(monkeypatch):
    """Instrumented: record the rows each fit sees (code column 0 holds the row index)."""
    fits = []

    class Recorder:
        def fit(self, codes, values):
            self.train_rows = codes[:, 0].astype(int)
            return self

        def predict(self, codes):
            fits.append((self.train_rows, codes[:, 0].astype(int)))
            return np.zeros(len(codes))

    monkeypatch.setattr(probes, "make_probe", lambda model, seed=0: Recorder())
    n = 300
    groups = np.random.default_rng(3).integers(0, 37, size=n)  # unequal, interleaved objects
    codes = np.column_stack([np.arange(n), np.zeros(n)])
    probe_labels(codes, {"rv": np.random.default_rng(4).normal(size=n)}, groups, models=("linear",), n_splits=5)
    assert len(fits) == 5
    tested = np.concatenate([test for _, test in fits])
    assert sorted(tested) == list(range(n))  # every spectrum predicted exactly once
    for train, test in fits:
        assert not set(groups[train]) & set(groups[test])


def test_probe_drops_nan_labels_and_keeps_column_units():
    rng = np.random.default_rng(5)
    codes = rng.normal(size=(400, 3))
    rv = 2.0 * codes[:, 0]
    missing = np.zeros(400, dtype=bool)
    missing[::7] = True
    label = MaskedColumn(np.where(missing, 0.0, rv), mask=missing, unit=u.km / u.s)
    with_nan = rv.copy()
    with_nan[missing] = np.nan
    results = probe_labels(codes, {"rv": label, "rv_nan": with_nan}, object_ids(400), models=("linear",))
    for result in results:
        assert result.n_used == 400 - missing.sum()
        assert np.all(np.isnan(result.predictions[missing])) and np.all(result.test_fold[missing] == -1)
        assert np.all(np.isfinite(result.predictions[~missing])) and result.r2 >= 0.99
    assert results[0].unit == u.km / u.s and results[1].unit is None


def test_probe_errors_on_too_few_objects():
    codes = np.random.default_rng(6).normal(size=(30, 2))
    with pytest.raises(ValueError, match="only 3 distinct objects for n_splits=5"):
        probe_labels(codes, {"feh": codes[:, 0]}, np.repeat([0, 1, 2], 10), n_splits=5)
    with pytest.raises(ValueError, match="only 3 distinct objects"):
        object_folds(np.repeat([0, 1, 2], 10), n_splits=4)


def test_probes_are_deterministic():
    rng = np.random.default_rng(7)
    codes = rng.normal(size=(500, 4))
    labels = {"logg": np.cos(codes[:, 1]) + 0.1 * rng.normal(size=500)}
    first = probe_labels(codes, labels, object_ids(500), seed=3)
    second = probe_labels(codes, labels, object_ids(500), seed=3)
    for a, b in zip(first, second, strict=True):
        assert (a.rmse, a.mae, a.r2) == (b.rmse, b.mae, b.r2)
        assert np.array_equal(a.predictions, b.predictions) and np.array_equal(a.test_fold, b.test_fold)
