"""Informative nodes, mutual information and the released-file loaders (specae.analysis)."""

from __future__ import annotations

import csv
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import sklearn.feature_selection._mutual_info as sklearn_mi
import torch
from scipy.special import digamma
from scipy.stats import median_abs_deviation
from sklearn.feature_selection import mutual_info_regression
from sklearn.neighbors import KDTree, NearestNeighbors

from specae.analysis import (
    LABEL_COLUMNS,
    MIEstimate,
    estimate_mi,
    histogram_mi,
    informative_nodes,
    ksg_mi,
    load_published_latents,
    mi_indicator,
    mi_table,
    node_dispersion,
    published_labels,
    sigma_clip_label,
)
from specae.analysis.mutual_information import _count_within, _joint_radius, _ksg, _sklearn_jitter, _standardise
from specae.analysis.published import PUBLISHED_COLUMNS

RHO = 0.6
TRUE_MI = -0.5 * np.log(1 - RHO**2)  # 0.22314 nats for a bivariate Gaussian with ρ = 0.6


def gaussian_pair(n: int, seed: int, rho: float = RHO) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, rho * x + np.sqrt(1 - rho**2) * rng.standard_normal(n)


# ---------------------------------------------------------------- known answers


def test_ksg_recovers_gaussian_mi_within_bootstrap_error():
    x, y = gaussian_pair(5000, seed=1)
    est = estimate_mi(x, y, "ksg", n_bootstrap=50, n_null=0, seed=0)
    # Measured: value 0.2178, boot_std 0.0127 (−0.4 σ; truth 0.2231). KSG's bias here is ≈ −0.002 (mean
    # of 40 data sets), far below its sampling spread, so 3 bootstrap σ is a fair tolerance.
    assert abs(est.value - TRUE_MI) < 3 * est.boot_std
    assert est.boot_p16 < est.value < est.boot_p84


def test_histogram_miller_madow_recovers_gaussian_mi_at_20_bins():
    x, y = gaussian_pair(5000, seed=1)
    est = estimate_mi(x, y, "histogram", bins=20, n_bootstrap=100, n_null=0, seed=0, miller_madow=True)
    # Measured: value 0.2144, boot_std 0.0089 (−1.0 σ). The plain plug-in at 20 bins gave 0.2327
    # on this draw; its bias is tested below.
    assert abs(est.value - TRUE_MI) < 3 * est.boot_std


def test_plugin_histogram_bias_and_miller_madow_correction():
    # 40 independent draws at N = 5000, 20 bins. Measured mean bias: plug-in +0.018 nats
    # (≈ 2.2 × its sampling σ of 0.008, so a single plug-in estimate would fail a 3σ test about
    # one time in five); Miller–Madow +0.0014. The standard error of a 40-draw mean is ≈ 0.0013.
    plugin, corrected = [], []
    for seed in range(40):
        x, y = gaussian_pair(5000, seed=100 + seed)
        plugin.append(histogram_mi(x, y, 20))
        corrected.append(histogram_mi(x, y, 20, miller_madow=True))
    assert np.mean(plugin) - TRUE_MI > 0.01
    assert abs(np.mean(corrected) - TRUE_MI) < 0.006


def test_histogram_mi_is_the_plug_in_sum_over_numpy_histogram2d():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(3000)
    y = np.sin(2 * x) + 0.3 * rng.standard_normal(3000)
    for bins in (5, 40, 160):
        counts, _, _ = np.histogram2d(x, y, bins)
        p = counts / counts.sum()
        outer = np.outer(p.sum(axis=1), p.sum(axis=0))
        nz = p > 0
        expected = np.sum(p[nz] * np.log(p[nz] / outer[nz]))
        assert histogram_mi(x, y, bins) == pytest.approx(expected, abs=1e-12)  # rounding only
    assert histogram_mi(x, np.full_like(x, 2.0), 20) == 0.0  # a constant carries no information


def test_ksg_mi_is_kraskov_algorithm_1_on_the_standardised_data():
    # Brute-force KSG (max-norm, strict counts) on the standardised pair. The max-norm makes KSG
    # depend on the relative scale of x and y (brute force on this pair with x × 1e4, y × 900:
    # 0.79 nats, against 0.90 standardised), so standardising is part of the estimator. ksg_mi on raw data with a large
    # offset and scale must give the same number: scikit-learn's 1e-10 jitter then acts on
    # unit-variance values and changes nothing.
    x, y = gaussian_pair(300, seed=4, rho=0.9)
    xs, ys = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    k, n = 3, x.size
    dx, dy = np.abs(xs[:, None] - xs[None, :]), np.abs(ys[:, None] - ys[None, :])
    dist = np.maximum(dx, dy)
    np.fill_diagonal(dist, np.inf)
    eps = np.sort(dist, axis=1)[:, k - 1]
    nx = (dx < eps[:, None]).sum(axis=1) - 1  # minus the point itself
    ny = (dy < eps[:, None]).sum(axis=1) - 1
    expected = digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))
    assert expected > 0.5
    assert ksg_mi(x, y, k=k) == pytest.approx(expected, abs=1e-9)  # rounding only
    assert ksg_mi(5e6 + 1e4 * x, 5800.0 + 900.0 * y, k=k) == pytest.approx(expected, abs=1e-9)


def test_bootstrap_errors_track_the_true_sampling_spread():
    # True σ of each estimator from 40 fresh draws at N = 2000 against the mean bootstrap σ of
    # 3 draws. Measured ratios: KSG half-sampling jackknife 1.08, histogram (15 bins, Miller–Madow)
    # 1.12. The jackknife errs large by design (Efron–Stein; up to 1.45 seen at N = 5000), so the
    # band is [0.7, 1.8] for KSG and [0.7, 1.4] for the histogram (a 40-draw σ is good to ≈ 11 %).
    fresh_ksg = [ksg_mi(*gaussian_pair(2000, 500 + s)) for s in range(40)]
    fresh_hist = [histogram_mi(*gaussian_pair(2000, 500 + s), 15, miller_madow=True) for s in range(40)]
    boot = dict(n_bootstrap=50, n_null=0)
    boot_ksg = [estimate_mi(*gaussian_pair(2000, 600 + s), "ksg", seed=s, **boot).boot_std for s in range(3)]
    boot_hist = [
        estimate_mi(*gaussian_pair(2000, 600 + s), "histogram", bins=15, seed=s, miller_madow=True, **boot).boot_std
        for s in range(3)
    ]
    assert 0.7 < np.mean(boot_ksg) / np.std(fresh_ksg, ddof=1) < 1.8
    assert 0.7 < np.mean(boot_hist) / np.std(fresh_hist, ddof=1) < 1.4


def test_resampling_with_replacement_would_inflate_ksg():
    # Why the KSG bootstrap subsamples without replacement: duplicates are zero-distance
    # neighbours. Measured: 0.21 nats on the data, 1.08 on a with-replacement resample.
    x, y = gaussian_pair(2000, seed=0)
    resample = np.random.default_rng(0).integers(0, x.size, x.size)
    assert ksg_mi(x[resample], y[resample]) > 3 * ksg_mi(x, y)


# ---------------------------------------------------------------- null and significance


@pytest.mark.parametrize("estimator", ["ksg", "histogram"])
def test_shuffled_labels_are_consistent_with_the_null(estimator):
    x, y = gaussian_pair(2000, seed=5)
    y_shuffled = np.random.default_rng(6).permutation(y)
    est = estimate_mi(x, y_shuffled, estimator, bins=20, n_bootstrap=20, n_null=100, seed=0)
    # Measured p-values: KSG 1.0 (estimate clamped to 0), histogram 0.25 (0.0715 vs null mean 0.0683).
    assert not est.above_noise
    assert est.p_value > 0.05


@pytest.mark.parametrize("estimator", ["ksg", "histogram"])
def test_strong_dependence_is_above_the_noise(estimator):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(2000)
    y = np.tanh(2 * x) + 0.1 * rng.standard_normal(2000)
    est = estimate_mi(x, y, estimator, bins=20, n_bootstrap=20, n_null=100, seed=0)
    assert est.above_noise
    assert est.p_value == pytest.approx(1 / 101)  # no shuffle reaches the observed value
    assert est.value > est.null_p99


# ---------------------------------------------------------------- informative nodes


def planted_latents(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 0.001, size=(n, 128))
    planted = np.array([11, 19, 58, 85, 99, 124])
    mu[:, planted] = rng.normal(0.0, 0.5, size=(n, planted.size))
    return mu, planted


def test_dispersion_picks_exactly_the_planted_nodes():
    mu, planted = planted_latents()
    # Expected: MAD ≈ 0.674 σ (0.34 planted, 0.0007 quiet), mean |dev| ≈ 0.798 σ (0.40, 0.0008).
    np.testing.assert_array_equal(informative_nodes(mu, 0.02, "median"), planted)
    np.testing.assert_array_equal(informative_nodes(mu, 0.2, "mean"), planted)
    np.testing.assert_array_equal(informative_nodes(torch.from_numpy(mu).float(), 0.02), planted)
    mad = node_dispersion(mu)
    assert mad.shape == (128,) and mad.dtype == np.float64
    np.testing.assert_allclose(mad, median_abs_deviation(mu, axis=0), rtol=1e-12)
    np.testing.assert_allclose(node_dispersion(mu, "mean"), np.mean(np.abs(mu - mu.mean(axis=0)), axis=0), rtol=1e-12)


def test_dispersion_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        node_dispersion(np.zeros(10))
    with pytest.raises(ValueError, match="at least 2"):
        node_dispersion(np.zeros((0, 128)))
    bad = np.zeros((10, 4))
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="row 3, node 2"):
        node_dispersion(bad)
    with pytest.raises(ValueError, match="statistic"):
        node_dispersion(np.zeros((10, 4)), "mode")
    with pytest.raises(ValueError, match="threshold"):
        informative_nodes(np.zeros((10, 4)), threshold=-1)


# ---------------------------------------------------------------- MI indicator and clipping


def test_mi_indicator_finds_the_planted_label_node():
    rng = np.random.default_rng(8)
    n = 3000
    mu = rng.standard_normal((n, 128))
    teff = rng.uniform(3000, 10000, n)
    mu[:, 85] = -np.tanh((teff - 6000) / 1500) + 0.05 * rng.standard_normal(n)
    mu[:, 19] = 0.3 * mu[:, 85] + rng.standard_normal(n)  # a weaker secondary link
    teff[[5, 17]] = np.nan
    result = mi_indicator(mu, teff, sigma=5.0)
    assert result.mi.shape == result.indicator.shape == (6, 128)
    assert result.n == n - 2
    np.testing.assert_array_equal(result.best_node, np.full(6, 85))
    np.testing.assert_array_equal(result.indicator.max(axis=1), np.ones(6))  # exactly 1
    np.testing.assert_array_equal(result.indicator[:, 85], np.ones(6))
    assert np.all(result.mi[:, 19] > np.median(result.mi, axis=1))
    with pytest.raises(ValueError, match="NaN"):
        mi_indicator(mu, teff)


def test_mi_indicator_is_fast_at_paper_size():
    rng = np.random.default_rng(9)
    mu = rng.standard_normal((7007, 128))
    start = time.perf_counter()
    for label in rng.standard_normal((6, 7007)):
        mi_indicator(mu, label)
    # Measured ≈ 3 s for 6 labels × 6 bin counts on 2 busy cores; the limit leaves headroom.
    assert time.perf_counter() - start < 30


def test_sigma_clip_drops_nan_and_a_10_sigma_outlier():
    values = np.random.default_rng(10).standard_normal(1000)
    values = np.concatenate([values, [10.0 * values.std() + np.median(values), np.nan, np.nan]])
    keep = sigma_clip_label(values, sigma=5.0)
    assert keep.dtype == bool and keep.shape == values.shape
    assert keep[:1000].all()  # no Gaussian point lies beyond 5σ here
    assert not keep[1000:].any()
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    assert sigma_clip_label(masked).tolist() == [True, False, True]  # masked counts as NaN


# ---------------------------------------------------------------- determinism and bad input


@pytest.mark.parametrize("estimator", ["ksg", "histogram"])
def test_same_seed_same_estimate_different_seed_different_errors(estimator):
    x, y = gaussian_pair(1000, seed=11)
    kwargs = dict(estimator=estimator, bins=20, n_bootstrap=20, n_null=100)
    first = estimate_mi(x, y, seed=3, **kwargs)
    assert isinstance(first, MIEstimate)
    assert first == estimate_mi(x, y, seed=3, **kwargs)  # every field bit for bit
    other = estimate_mi(x, y, seed=4, **kwargs)
    assert other.boot_std != first.boot_std
    if estimator == "histogram":
        assert other.value == first.value  # the point estimate itself has no randomness


def test_estimators_reject_bad_input():
    x, y = gaussian_pair(100, seed=12)
    with pytest.raises(ValueError, match="same length"):
        estimate_mi(x, y[:-1])
    with pytest.raises(ValueError, match="at least 10"):
        estimate_mi(x[:5], y[:5], "histogram")
    with pytest.raises(ValueError, match="at least 5"):
        ksg_mi(x[:4], y[:4], k=3)
    with pytest.raises(ValueError, match="finite"):
        histogram_mi(np.where(x > 1, np.nan, x), y, 10)
    with pytest.raises(ValueError, match="estimator"):
        estimate_mi(x, y, "gmm")
    with pytest.raises(ValueError, match="n_null"):
        estimate_mi(x, y, "histogram", n_null=50)  # 50 shuffles cannot reach p < 0.01
    with pytest.raises(ValueError, match="bins"):
        histogram_mi(x, y, 0)
    with pytest.raises(ValueError, match="spectra"):
        mi_indicator(np.zeros((100, 3)), y[:50])


# ---------------------------------------------------------------- tables


def test_mi_table_cleans_each_label_and_seeds_each_pair_on_its_own():
    rng = np.random.default_rng(13)
    n = 400
    mu = rng.standard_normal((n, 8))
    rv = rng.uniform(-100, 100, n)
    mu[:, 3] = np.tanh(rv / 40) + 0.05 * rng.standard_normal(n)
    rv[:30] = np.nan
    rv[30] = 1e6  # far beyond 5σ
    snr = rng.uniform(10, 200, n)
    kwargs = dict(estimator="histogram", bins=10, n_bootstrap=10, n_null=100, seed=2)
    table = mi_table(mu, {"rv": rv, "snr": snr}, nodes=[0, 3], **kwargs)
    assert len(table) == 4
    assert list(table["label"]) == ["rv", "rv", "snr", "snr"] and list(table["node"]) == [0, 3, 0, 3]
    assert list(table["n"]) == [n - 31, n - 31, n, n]
    fields = {"value", "boot_std", "boot_p16", "boot_p84", "null_mean", "null_p95", "null_p99", "p_value",
              "above_noise"}
    assert fields <= set(table.colnames)
    assert table["above_noise"][1] and not table["above_noise"][2]
    alone = mi_table(mu, {"snr": snr}, nodes=[3], **kwargs)
    assert alone["boot_std"][0] == table["boot_std"][3]  # a row does not depend on its neighbours
    cut = mi_table(mu, {"snr": snr}, nodes=[3], rows=np.arange(n) >= 100, **kwargs)
    assert cut["n"][0] == n - 100
    with pytest.raises(ValueError, match="nodes"):
        mi_table(mu, {"snr": snr}, nodes=[8], **kwargs)


# ---------------------------------------------------------------- released files


def write_published_fixture(tmp_path, unique_flags, n_nodes=4):
    """A CSV in the released format (pandas-style: empty field = NaN) and the matching .npy."""
    rng = np.random.default_rng(14)
    csv_path = tmp_path / "harps_metadata_and_labels.csv"
    rows = []
    for i, flag in enumerate(unique_flags):
        row = dict.fromkeys(PUBLISHED_COLUMNS, "")
        row.update(
            dp_id=f"ADP.2014-09-16T11:03:{i:02d}.000", target_name="V4376_Sgr", target_name_fixed="V4376SGR",
            fixed_name_count=3, median=[18.0, 120.5, 49.99, 3000.0, 50.0, 700.0][i % 6], unique_subset=flag,
            spec_type="G3V", spec_type_no=4, s_ra=10.0 + i, s_dec=-20.0, Teff=5000 + 100 * i, s_Teff=120,
            logg=4.4, s_logg=0.1, Mass=1.0, s_Mass=0.1, radvel=-12.5 + i, airmass=1.2, snr=80.0, vsini=2.0,
        )
        row["[M/H]"], row["e_[M/H]"] = (-0.1 * i, 0.05) if i % 2 else ("", "")
        if i == 2:
            row["Teff"] = ""
            row["radvel"] = "nan"
        rows.append(row)
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PUBLISHED_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    n_unique = sum(flag == "Y" for flag in unique_flags)
    mu = rng.standard_normal((n_unique, n_nodes)).astype(np.float32)
    npy_path = tmp_path / "encoded_harps_unique_128d_e182_i1500000.npy"
    np.save(npy_path, mu)
    return npy_path, csv_path, mu


def test_load_published_latents_aligns_unique_rows(tmp_path):
    flags = ["Y", "", "Y", "Y", "Y", "", "Y"]
    npy_path, csv_path, expected_mu = write_published_fixture(tmp_path, flags)
    mu, labels = load_published_latents(npy_path, csv_path)
    np.testing.assert_array_equal(mu, expected_mu.astype(np.float64))
    assert mu.dtype == np.float64 and len(labels) == 5
    assert list(labels["dp_id"]) == [f"ADP.2014-09-16T11:03:{i:02d}.000" for i in (0, 2, 3, 4, 6)]  # file order
    assert set(PUBLISHED_COLUMNS) <= set(labels.colnames)
    assert set(LABEL_COLUMNS) <= set(labels.colnames)
    np.testing.assert_array_equal(labels["teff"], [5000, np.nan, 5300, 5400, 5600])  # '' → NaN
    assert np.isnan(labels["rv"][1]) and labels["rv"][0] == -12.5  # literal 'nan' → NaN
    np.testing.assert_array_equal(np.isnan(labels["feh"]), [True, True, False, True, True])
    np.testing.assert_array_equal(labels["median_lt_50"], [True, True, False, False, True])  # 50.0 is kept
    assert labels["spec_type"][0] == "G3V"
    arrays = published_labels(labels)
    assert set(arrays) == set(LABEL_COLUMNS) and arrays["mass"].dtype == np.float64


def test_load_published_latents_rejects_mismatched_files(tmp_path):
    npy_path, csv_path, _ = write_published_fixture(tmp_path, ["Y", "", "Y"])
    np.save(npy_path, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"2 rows with unique_subset == 'Y' but .* 3 latent rows"):
        load_published_latents(npy_path, csv_path)
    csv_path.write_text("dp_id,Teff\nADP.1,5000\n")
    with pytest.raises(ValueError, match="missing columns"):
        load_published_latents(npy_path, csv_path)


def test_the_best_node_null_is_the_largest_shuffled_mi_over_the_nodes():
    """Study II's C5 null: per shuffle, the maximum over nodes, so it lies at or above every node's own null (the
    same shuffles), and a node that carries the label still clears its 95th percentile."""
    from specae.analysis.mutual_information import best_node_null, estimate_mi

    rng = np.random.default_rng(0)
    label = rng.normal(size=400)
    mu = np.column_stack([rng.normal(size=400) for _ in range(5)] + [label + 0.3 * rng.normal(size=400)])
    for estimator in ("histogram", "ksg"):
        null = best_node_null(mu, label, estimator=estimator, bins=12, n_null=20, seed=3)
        assert null.shape == (20,)
        singles = [best_node_null(mu, label, nodes=[node], estimator=estimator, bins=12, n_null=20, seed=3)
                   for node in range(6)]
        np.testing.assert_array_equal(null, np.max(singles, axis=0))
        own = estimate_mi(mu[:, 0], label, estimator=estimator, bins=12, n_bootstrap=0, n_null=20, seed=3, alpha=0.1)
        assert own.null_p95 == pytest.approx(np.percentile(singles[0], 95))  # estimate_mi's own shuffles
        carrier = estimate_mi(mu[:, 5], label, estimator=estimator, bins=12, n_bootstrap=0, n_null=0, seed=3)
        assert carrier.value > np.percentile(best_node_null(mu, label, nodes=range(5), estimator=estimator, bins=12,
                                                            n_null=20, seed=3), 95)
    with pytest.raises(ValueError, match="codes and label must be finite"):
        best_node_null(np.full((10, 2), np.nan), np.zeros(10))


# ---------------------------------------------------------------- KSG: the same floats as scikit-learn


def sklearn_ksg(x, y, k, seed):
    """What ``_ksg`` computed before it was reimplemented: scikit-learn's estimator on the standardised pair."""
    xs, ys = _standardise(x), _standardise(y)
    return float(mutual_info_regression(xs[:, None], ys, discrete_features=False, n_neighbors=k, random_state=seed)[0])


KSG_KINDS = ("gaussian", "strong", "independent", "uniform", "heavy_tailed", "teff_offset", "ties", "duplicates")


def ksg_case(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A test pair of one kind; "ties" and "duplicates" have exact repeats in x, in y and of whole points."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    if kind == "strong":
        return x, 0.95 * x + 0.31 * rng.standard_normal(n)
    if kind == "independent":  # the estimate is often negative and clamped to 0
        return x, rng.standard_normal(n)
    if kind == "uniform":
        return rng.uniform(size=n), rng.uniform(size=n)
    if kind == "heavy_tailed":
        x = rng.standard_t(1.5, n)
        return x, x + rng.standard_t(1.5, n)
    if kind == "teff_offset":  # Teff in K against a node that barely moves around a large offset
        teff = rng.uniform(3_500.0, 7_000.0, n)
        return 1e3 - 1e-3 * teff + 1e-4 * rng.standard_normal(n), teff
    y = 0.6 * x + 0.8 * rng.standard_normal(n)
    if kind == "ties":
        return np.round(x, 1), np.round(y, 1)
    if kind == "duplicates":
        pick = rng.integers(0, n, n)
        return x[pick], y[pick]
    return x, y


KSG_CASES = [(n, kind, (1, 3, 5)[(i + j) % 3]) for i, n in enumerate((10, 50, 300, 2000, 5000))
             for j, kind in enumerate(KSG_KINDS)] + [(k + 2, "gaussian", k) for k in (1, 3, 5)]


@pytest.mark.parametrize(("n", "kind", "k"), KSG_CASES)
def test_ksg_is_scikit_learns_estimator_bit_for_bit(n, kind, k):
    """43 cases: n in {10, 50, 300, 2000, 5000} (and the smallest allowed, k + 2), k in {1, 3, 5}, all kinds."""
    x, y = ksg_case(kind, n, seed=1000 + n + 7 * KSG_KINDS.index(kind))
    seed = int(np.random.default_rng(n + k).integers(0, 2**32))
    assert _ksg(x, y, k, seed) == sklearn_ksg(x, y, k, seed)  # exactly: same floats, no tolerance


def test_ksg_cases_cover_clamped_and_positive_estimates():
    values = [sklearn_ksg(*ksg_case(kind, n, seed=1000 + n + 7 * KSG_KINDS.index(kind)), k, 0)
              for n, kind, k in KSG_CASES if n <= 300]
    assert 0.0 in values and max(values) > 1.0


def radius_and_counts_as_sklearn(x, y, k) -> tuple[np.ndarray, list[np.ndarray]]:
    """_joint_radius and _count_within of (x, y), asserted equal to scikit-learn's NearestNeighbors radii and
    KDTree counts (_compute_mi_cc's steps); returns the radii and the counts in x and in y."""
    radius = _joint_radius(x, y, k)
    nn = NearestNeighbors(metric="chebyshev", n_neighbors=k).fit(np.column_stack((x, y)))
    np.testing.assert_array_equal(radius, np.nextafter(nn.kneighbors()[0][:, -1], 0))  # exact equality
    counts = [_count_within(v, radius) for v in (x, y)]
    for v, count in zip((x, y), counts, strict=True):
        expected = KDTree(v[:, None], metric="chebyshev").query_radius(v[:, None], radius, count_only=True)
        np.testing.assert_array_equal(count, expected)
    return radius, counts


@pytest.mark.parametrize(("n", "kind", "k"), [(2000, "gaussian", 3), (300, "teff_offset", 5), (50, "ties", 1),
                                              (300, "duplicates", 3), (5, "gaussian", 3)])
def test_ksg_steps_are_scikit_learns_steps(monkeypatch, n, kind, k):
    """Each intermediate, not only the final float: the rescaled and jittered pair scikit-learn hands to
    _compute_mi_cc (caught there), its neighbour radii and its KD-tree counts."""
    seen = {}
    real = sklearn_mi._compute_mi_cc

    def spy(x, y, n_neighbors):
        seen.update(x=x.copy(), y=y.copy())
        return real(x, y, n_neighbors)

    monkeypatch.setattr(sklearn_mi, "_compute_mi_cc", spy)
    x, y = ksg_case(kind, n, seed=5)
    sklearn_ksg(x, y, k, seed=123)
    xj, yj = _sklearn_jitter(_standardise(x), _standardise(y), 123)
    np.testing.assert_array_equal(xj, seen["x"])  # exact equality
    np.testing.assert_array_equal(yj, seen["y"])
    radius_and_counts_as_sklearn(xj, yj, k)


def test_radius_and_counts_match_scikit_learn_on_exact_ties_and_rounding_traps():
    """Without jitter: exact duplicate points (radius 0 where k copies coincide) and repeated marginal values; and
    the trap of the sorted counts: v_i + radius_i often rounds up onto the neighbour that set the radius,
    which ``searchsorted`` alone would count and scikit-learn's exact test does not."""
    rng = np.random.default_rng(22)
    grid = rng.integers(0, 4, (300, 2)).astype(np.float64)  # 16 distinct points, each repeated ~19 times
    rounded = np.round(rng.standard_normal((300, 2)), 1)
    pairs = [grid[:, 0], grid[:, 1]], [rounded[:, 0], rounded[:, 1]], ksg_case("gaussian", 2000, seed=23)
    trapped = 0
    for x, y in pairs:
        for k in (1, 3, 5):
            radius, counts = radius_and_counts_as_sklearn(x, y, k)
            for v, count in zip((x, y), counts, strict=True):
                np.testing.assert_array_equal(count, (np.abs(v[None, :] - v[:, None]) <= radius[:, None]).sum(1))
                s = np.sort(v)
                naive = np.searchsorted(s, v + radius, "right") - np.searchsorted(s, v - radius, "left")
                trapped += np.count_nonzero(naive != count)
    assert np.any(_joint_radius(grid[:, 0], grid[:, 1], 5) == 0.0)
    assert trapped > 3000  # measured 6,490 (none on the integer grid): the boundary correction is exercised


def test_ksg_is_the_same_from_several_threads():
    """The jitter generator is reseeded per call and held per thread, so concurrent estimates do not mix streams."""
    x, y = gaussian_pair(300, seed=24)
    calls = [(x, y[np.random.default_rng(s).permutation(300)], 3, s) for s in range(16)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda args: _ksg(*args), calls))
    assert threaded == [_ksg(*args) for args in calls] == [sklearn_ksg(*args) for args in calls]
    assert _ksg(x, np.full(300, 5800.0), 3, 0) == 0.0  # a constant carries no information
