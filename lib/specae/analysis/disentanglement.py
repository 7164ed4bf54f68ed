"""Disentanglement scores of latent codes against known continuous generative factors: MIG, SAP, DCI.

Shapes: ``codes`` is (N, D) latent means of N spectra; ``factors`` maps each of K factor names to an (N,)
array. Latent dimensions that are exactly constant carry no information and are dropped first (their
indices are reported), so no score is NaN. The definitions follow Locatello et al. 2019
(``disentanglement_lib``) with the changes for continuous factors named in each docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import Lasso
from sklearn.metrics import mutual_info_score
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

from specae.analysis._inputs import latent_matrix

BIN_STRATEGIES = ("equal_width", "equal_frequency")


@dataclass(frozen=True)
class FactorScores:
    """The scores of one factor: its MIG and SAP gaps, DCI completeness and held-out prediction quality."""

    name: str
    entropy: float  # H(v_k) of the discretised factor, nats
    mig_gap: float  # (I_top1 − I_top2) / H(v_k)
    sap_gap: float  # R²_top1 − R²_top2
    dci_completeness: float  # 1 − H_D(P_·k)
    r2: float  # DCI informativeness: held-out R² of the regressor
    nrmse: float  # held-out RMSE / standard deviation of the held-out factor


@dataclass(frozen=True)
class DisentanglementScores:
    """MIG, SAP and DCI of one set of codes.

    ``latent_indices`` are the columns of the input codes that were kept (non-constant); the rows of
    ``mutual_information`` (nats), ``sap_matrix`` (R²) and ``importance`` follow that order, their columns
    follow ``factor_names``.
    """

    mig: float
    sap: float
    dci_disentanglement: float
    dci_completeness: float
    dci_informativeness: float  # mean held-out R² over factors
    dci_nrmse: float  # mean held-out normalised RMSE over factors
    factor_names: tuple[str, ...]
    latent_indices: np.ndarray  # (D_kept,) int
    dropped_latents: np.ndarray  # (D − D_kept,) int, the constant dimensions
    per_factor: dict[str, FactorScores]
    mutual_information: np.ndarray  # (D_kept, K)
    sap_matrix: np.ndarray  # (D_kept, K)
    importance: np.ndarray  # (D_kept, K), each non-zero column sums to 1
    test_indices: np.ndarray  # rows held out for DCI informativeness


# --------------------------------------------------------------------------------------------- inputs


def _as_float(values) -> np.ndarray:
    """A float64 copy of an array, Quantity or (masked) Column: units stripped, masked entries as NaN."""
    plain = getattr(values, "value", values)
    return np.ma.filled(np.ma.asarray(plain, dtype=np.float64), np.nan)


def _as_factors(factors: Mapping[str, object], n: int) -> tuple[tuple[str, ...], np.ndarray]:
    """Factor names and an (N, K) float array; raises on wrong length, non-finite or constant factors."""
    if not factors:
        raise ValueError("factors is empty; pass a dict of at least one name -> (n_spectra,) array")
    names, columns = [], []
    for name, values in factors.items():
        column = _as_float(values)
        if column.shape != (n,):
            raise ValueError(f"factor {name!r} has shape {column.shape}, expected ({n},) to match the codes")
        if not np.all(np.isfinite(column)):
            raise ValueError(f"factor {name!r} contains NaN or infinite values; drop those spectra before scoring")
        if np.ptp(column) == 0:
            raise ValueError(f"factor {name!r} is constant ({column[0]!r}), so it has no entropy to explain; "
                             "remove it from factors")
        names.append(str(name))
        columns.append(column)
    return tuple(names), np.stack(columns, axis=1)


def non_constant_latents(codes: np.ndarray) -> np.ndarray:
    """Indices (D_kept,) of the columns of ``codes`` (N, D) whose values are not all equal."""
    return np.flatnonzero(np.ptp(np.asarray(codes, dtype=np.float64), axis=0) > 0)


# ------------------------------------------------------------------------------------------------ MIG


def discretize(values: np.ndarray, n_bins: int = 20, strategy: str = "equal_width") -> np.ndarray:
    """Bin each column of ``values`` (N,) or (N, M) into integer labels 0 … n_bins − 1 (same shape).

    ``equal_width``: n_bins equal-width bins over each column's range (``np.histogram`` edges, as in
    ``disentanglement_lib``'s ``_histogram_discretize``). ``equal_frequency``: bins at the column's
    quantiles, so each holds ≈ N / n_bins values (ties can merge bins).
    """
    if strategy not in BIN_STRATEGIES:
        raise ValueError(f"unknown binning strategy {strategy!r}; use one of {BIN_STRATEGIES}")
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    array = np.asarray(values, dtype=np.float64)
    columns = array.reshape(len(array), -1)
    out = np.empty(columns.shape, dtype=np.int64)
    for m in range(columns.shape[1]):
        column = columns[:, m]
        if strategy == "equal_width":
            edges = np.histogram_bin_edges(column, bins=n_bins)
        else:
            edges = np.quantile(column, np.linspace(0.0, 1.0, n_bins + 1))
        # Interior edges only: values below the first go to bin 0, the maximum to the last bin.
        out[:, m] = np.searchsorted(edges[1:-1], column, side="right")
    return out.reshape(array.shape)


def mutual_information_matrix(codes: np.ndarray, factors: np.ndarray, n_bins: int = 20,
                              strategy: str = "equal_width") -> np.ndarray:
    """Plug-in mutual information I(z_j; v_k) in nats, (D, K), of discretised codes (N, D) and factors (N, K)."""
    binned_codes = discretize(codes, n_bins, strategy).reshape(len(codes), -1)
    binned_factors = discretize(factors, n_bins, strategy).reshape(len(factors), -1)
    n_latents, n_factors = binned_codes.shape[1], binned_factors.shape[1]
    return np.array([[mutual_info_score(binned_factors[:, k], binned_codes[:, j]) for k in range(n_factors)]
                     for j in range(n_latents)], dtype=np.float64).reshape(n_latents, n_factors)


def factor_entropies(factors: np.ndarray, n_bins: int = 20, strategy: str = "equal_width") -> np.ndarray:
    """Entropy H(v_k) in nats, (K,), of each discretised factor column of ``factors`` (N, K)."""
    binned = discretize(factors, n_bins, strategy).reshape(len(factors), -1)
    return np.array([mutual_info_score(binned[:, k], binned[:, k]) for k in range(binned.shape[1])])


def mig_gaps(mutual_information: np.ndarray, entropies: np.ndarray) -> np.ndarray:
    """Per-factor MIG gap (K,): (largest − second-largest I(z_j; v_k) over j) / H(v_k).

    Chen et al. 2018, "Isolating sources of disentanglement in variational autoencoders" (NeurIPS), eq. 6.
    With fewer than two latents the missing second-largest MI counts as 0.
    """
    mi = np.asarray(mutual_information, dtype=np.float64)
    padded = np.vstack([mi, np.zeros((max(0, 2 - mi.shape[0]), mi.shape[1]))])
    top = -np.sort(-padded, axis=0)
    return (top[0] - top[1]) / np.asarray(entropies, dtype=np.float64)


def mig(codes, factors: Mapping[str, object], n_bins: int = 20, strategy: str = "equal_width") -> float:
    """Mutual Information Gap of codes (N, D) against continuous factors (dict of (N,) arrays).

    Chen et al. 2018: MIG = 1/K Σ_k [I(z_j⁽ᵏ⁾; v_k) − max_{j≠j⁽ᵏ⁾} I(z_j; v_k)] / H(v_k), j⁽ᵏ⁾ = argmax_j I(z_j; v_k).
    Continuous codes and factors are discretised into ``n_bins`` bins (``strategy``: equal_width as in
    ``disentanglement_lib``, or equal_frequency); I from ``sklearn.metrics.mutual_info_score`` on the bins,
    H(v_k) the entropy of the binned factor. Constant codes score 0.
    """
    array = latent_matrix(codes, "codes")
    _, values = _as_factors(factors, len(array))
    kept = array[:, non_constant_latents(array)]
    mi = mutual_information_matrix(kept, values, n_bins, strategy)
    return float(np.mean(mig_gaps(mi, factor_entropies(values, n_bins, strategy))))


# ------------------------------------------------------------------------------------------------ SAP


def sap_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """R² (D, K) of the linear regression of each factor v_k (N, K) on each single latent z_j (N, D).

    For a one-variable least-squares fit with intercept R² = corr(z_j, v_k)², which is what is computed
    (``disentanglement_lib``'s continuous SAP score matrix). Constant columns must be removed first.
    """
    z = np.asarray(codes, dtype=np.float64)
    v = np.asarray(factors, dtype=np.float64)
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    v = (v - v.mean(axis=0)) / v.std(axis=0)
    return np.clip((z.T @ v / len(z)) ** 2, 0.0, 1.0)


def sap_gaps(score_matrix: np.ndarray) -> np.ndarray:
    """Per-factor SAP gap (K,): the largest minus the second-largest score over latents (0 if D < 2).

    Kumar et al. 2018, "Variational inference of disentangled latent concepts from unlabeled
    observations" (ICLR), §3: Separated Attribute Predictability.
    """
    scores = np.asarray(score_matrix, dtype=np.float64)
    padded = np.vstack([scores, np.zeros((max(0, 2 - scores.shape[0]), scores.shape[1]))])
    top = -np.sort(-padded, axis=0)
    return top[0] - top[1]


def sap(codes, factors: Mapping[str, object]) -> float:
    """SAP score of codes (N, D) against continuous factors: mean over factors of :func:`sap_gaps` of
    :func:`sap_matrix` (Kumar et al. 2018). Constant codes score 0."""
    array = latent_matrix(codes, "codes")
    _, values = _as_factors(factors, len(array))
    kept = array[:, non_constant_latents(array)]
    if kept.shape[1] == 0:
        return 0.0
    return float(np.mean(sap_gaps(sap_matrix(kept, values))))


# ------------------------------------------------------------------------------------------------ DCI


def _normalised_entropy(p: np.ndarray, base: int) -> float:
    """Shannon entropy of the distribution ∝ p in units of log(base); 0 for base 1 (one outcome)."""
    if base <= 1:
        return 0.0
    p = p / p.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / np.log(base))


def dci_disentanglement(importance: np.ndarray) -> float:
    """Σ_j ρ_j (1 − H_K(P_j·)) of an importance matrix (D, K) (Eastwood & Williams 2018, §3).

    P_j· is row j normalised to sum 1, H_K the entropy with logarithm base K, ρ_j = Σ_k R_jk / Σ R.
    Rows that are all zero (unused latents) have ρ_j = 0 and contribute nothing; an all-zero matrix scores 0.
    """
    r = np.asarray(importance, dtype=np.float64)
    total = r.sum()
    if total <= 0:
        return 0.0
    n_factors = r.shape[1]
    return float(sum(row.sum() / total * (1.0 - _normalised_entropy(row, n_factors)) for row in r if row.sum() > 0))


def dci_completeness_per_factor(importance: np.ndarray) -> np.ndarray:
    """1 − H_D(P·k) per factor (K,), P·k column k normalised to sum 1, log base D = n_latents.

    Eastwood & Williams 2018, §3. A factor no latent predicts (all-zero column) scores 0.
    """
    r = np.asarray(importance, dtype=np.float64)
    n_latents = r.shape[0]
    return np.array([1.0 - _normalised_entropy(column, n_latents) if column.sum() > 0 else 0.0 for column in r.T])


def _default_regressor(name: str, seed: int, lasso_alpha: float):
    if name == "gradient_boosting":
        return GradientBoostingRegressor(n_estimators=50, max_depth=3, learning_rate=0.1, random_state=seed)
    if name == "lasso":
        return Lasso(alpha=lasso_alpha, max_iter=10_000, random_state=seed)
    raise ValueError(f"unknown regressor {name!r}; use 'gradient_boosting', 'lasso' or an sklearn regressor "
                     "with feature_importances_ or coef_")


def dci_split(n: int, groups=None, test_size: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices for DCI; object-disjoint (``GroupShuffleSplit``) when ``groups`` (N,) is given."""
    if groups is None:
        splitter = ShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        return next(splitter.split(np.zeros(n)))
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups has shape {groups.shape}, expected ({n},) to match the codes")
    if len(np.unique(groups)) < 2:
        raise ValueError("groups holds fewer than 2 distinct objects, so no object-disjoint test split exists; "
                         "pass groups=None or more objects")
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    return next(splitter.split(np.zeros(n), groups=groups))


def dci_importance(codes: np.ndarray, factors: np.ndarray, train: np.ndarray, test: np.ndarray,
                   regressor="gradient_boosting", seed: int = 0,
                   lasso_alpha: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit one regressor per factor on the train rows; return (importance (D, K), R² (K,), NRMSE (K,)).

    codes (N, D) and factors (N, K) are standardised with train-row statistics (irrelevant for trees,
    needed to make Lasso coefficients comparable). Importance is ``feature_importances_`` or |coef_|,
    each non-zero column normalised to sum 1 so every factor carries equal weight (as gradient-boosting
    importances already do). R² and NRMSE = RMSE / std(v_k) are measured on the test rows.
    """
    mean, std = codes[train].mean(axis=0), codes[train].std(axis=0)
    std[std == 0] = 1.0
    z = (codes - mean) / std
    n_latents, n_factors = codes.shape[1], factors.shape[1]
    importance = np.zeros((n_latents, n_factors))
    r2, nrmse = np.zeros(n_factors), np.zeros(n_factors)
    for k in range(n_factors):
        v_mean, v_std = factors[train, k].mean(), factors[train, k].std()
        v = (factors[:, k] - v_mean) / (v_std if v_std > 0 else 1.0)
        model = _default_regressor(regressor, seed, lasso_alpha) if isinstance(regressor, str) else clone(regressor)
        model.fit(z[train], v[train])
        if hasattr(model, "feature_importances_"):
            column = np.asarray(model.feature_importances_, dtype=np.float64)
        elif hasattr(model, "coef_"):
            column = np.abs(np.ravel(model.coef_)).astype(np.float64)
        else:
            raise TypeError(f"regressor {type(model).__name__} has neither feature_importances_ nor coef_; "
                            "use a tree ensemble or a linear model")
        if column.sum() > 0:
            column = column / column.sum()
        importance[:, k] = column
        residual = v[test] - model.predict(z[test])
        spread = v[test].std()
        rmse = np.sqrt(np.mean(residual**2))
        nrmse[k] = rmse / spread if spread > 0 else np.inf
        r2[k] = 1.0 - nrmse[k] ** 2 if spread > 0 else -np.inf
    return importance, r2, nrmse


# ---------------------------------------------------------------------------------------------- all


def disentanglement_scores(codes, factors: Mapping[str, object], groups=None, seed: int = 0, n_bins: int = 20,
                           bin_strategy: str = "equal_width", regressor="gradient_boosting",
                           test_size: float = 0.25, lasso_alpha: float = 0.01) -> DisentanglementScores:
    """MIG, SAP and DCI of codes (N, D) against continuous factors (dict name -> (N,) array).

    - MIG (Chen et al. 2018): :func:`mig`, binning ``n_bins`` / ``bin_strategy`` (default 20 equal-width
      bins per variable, as in ``disentanglement_lib``).
    - SAP (Kumar et al. 2018): :func:`sap`, single-latent linear R² score matrix.
    - DCI (Eastwood & Williams 2018, "A framework for the quantitative evaluation of disentangled
      representations", ICLR): importance from ``regressor`` ('gradient_boosting', the default as in
      ``disentanglement_lib`` but with 50 rather than 100 trees of depth 3 for speed: ≈ 0.1 s per factor
      for 1,500 training spectra × 4 latents, but ≈ 17 s per factor for 3,750 × 128 (linear in latents),
      so score the informative latents rather than all 128; 'lasso' with ``lasso_alpha`` on standardised data; or
      any sklearn regressor with feature_importances_/coef_) fitted on a train split; informativeness is
      the mean R² on the held-out ``test_size`` fraction, object-disjoint when ``groups`` (N,) is given.
      Completeness is the plain mean over factors; as every importance column sums to 1 this equals
      ``disentanglement_lib``'s factor-importance-weighted mean.

    Constant latent dimensions are dropped (see ``dropped_latents``); with none left MIG, SAP and DCI
    disentanglement/completeness are 0 and informativeness is that of predicting the training mean (R² ≈ 0).
    Constant or non-finite factors raise ValueError. Deterministic for a given ``seed``.
    """
    array = latent_matrix(codes, "codes")
    names, values = _as_factors(factors, len(array))
    kept_indices = non_constant_latents(array)
    dropped = np.setdiff1d(np.arange(array.shape[1]), kept_indices)
    kept = array[:, kept_indices]
    train, test = dci_split(len(array), groups, test_size, seed)
    for name, column in zip(names, values.T, strict=True):
        if np.ptp(column[train]) == 0:
            raise ValueError(f"factor {name!r} is constant on the DCI training split; "
                             "pass more objects or another seed")

    entropies = factor_entropies(values, n_bins, bin_strategy)
    if kept.shape[1] == 0:
        n_factors = len(names)
        mi = sap_scores = importance = np.zeros((0, n_factors))
        mig_k = sap_k = completeness_k = np.zeros(n_factors)
        # No information: the best predictor is the training mean of each factor.
        prediction = values[train].mean(axis=0)
        spread = values[test].std(axis=0)
        nrmse = np.sqrt(np.mean((values[test] - prediction) ** 2, axis=0)) / spread
        r2 = 1.0 - nrmse**2
        disentanglement = 0.0
    else:
        mi = mutual_information_matrix(kept, values, n_bins, bin_strategy)
        mig_k = mig_gaps(mi, entropies)
        sap_scores = sap_matrix(kept, values)
        sap_k = sap_gaps(sap_scores)
        importance, r2, nrmse = dci_importance(kept, values, train, test, regressor, seed, lasso_alpha)
        completeness_k = dci_completeness_per_factor(importance)
        disentanglement = dci_disentanglement(importance)

    per_factor = {name: FactorScores(name=name, entropy=float(entropies[k]), mig_gap=float(mig_k[k]),
                                     sap_gap=float(sap_k[k]), dci_completeness=float(completeness_k[k]),
                                     r2=float(r2[k]), nrmse=float(nrmse[k]))
                  for k, name in enumerate(names)}
    return DisentanglementScores(
        mig=float(np.mean(mig_k)), sap=float(np.mean(sap_k)), dci_disentanglement=disentanglement,
        dci_completeness=float(np.mean(completeness_k)), dci_informativeness=float(np.mean(r2)),
        dci_nrmse=float(np.mean(nrmse)), factor_names=names, latent_indices=kept_indices, dropped_latents=dropped,
        per_factor=per_factor, mutual_information=mi, sap_matrix=sap_scores, importance=importance,
        test_indices=test)
