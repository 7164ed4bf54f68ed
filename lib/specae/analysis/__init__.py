"""Latent-space analysis (paper §6 and beyond): reconstruction against bottleneck size, informative nodes,
mutual information with labels, disentanglement scores against true factors, label probes, latent traversals,
the split's latent shift, where the sampler's draws go, the paper's claims and the released files."""

from specae.analysis.bottleneck import (
    error_table,
    errors_by_seed,
    example_star,
    masked_flux,
    pca_reconstructions,
    per_spectrum_l1,
    reconstruct,
    reconstruction_errors,
)
from specae.analysis.claims import (
    ACTIVE_UNIT_NATS,
    CLAIMS,
    COLLAPSE_KL_NATS,
    INCONCLUSIVE,
    NOT_TESTABLE,
    ClaimCheck,
    check_c1,
    check_c2,
    check_c3,
    check_c4,
    check_c5,
    check_c6,
    check_c7,
    not_testable,
    unless_collapsed,
    unless_rv_node,
)
from specae.analysis.convergence import Convergence, all_converged, convergence
from specae.analysis.disentanglement import DisentanglementScores, FactorScores, disentanglement_scores
from specae.analysis.draw_shares import DrawShares, draw_shares
from specae.analysis.factors import FactorSensitivity, factor_sensitivity
from specae.analysis.informative import informative_nodes, node_dispersion
from specae.analysis.latent_shift import LatentShift, latent_shift
from specae.analysis.latents import EncodedSet, encode_labelled, encode_means, one_per_star, usable
from specae.analysis.mutual_information import (
    MI_BINS,
    MIEstimate,
    MIIndicator,
    estimate_mi,
    histogram_mi,
    ksg_mi,
    mi_indicator,
    mi_table,
    sigma_clip_label,
)
from specae.analysis.paper_comparison import LabelNode, PaperComparison, compare_with_paper, label_node
from specae.analysis.probes import ProbeResult, object_folds, probe_labels
from specae.analysis.published import (
    LABEL_COLUMNS,
    RELEASED_CHECKPOINT_ITERATIONS,
    load_published_latents,
    published_labels,
    read_published_labels,
)
from specae.analysis.run_state import RunState, collapsed_sizes, run_state, run_states, state_of
from specae.analysis.traversal import (
    DopplerSweep,
    MedianBand,
    MonotonicWindow,
    doppler_shift_kms,
    doppler_sweep,
    median_band,
    monotonic_window,
    traverse,
    turning_ends,
)
from specae.analysis.velocity import (
    HARPS_HOLE_WIDTH_KMS,
    CCFResult,
    ccf_rv,
    harps_mask,
    harps_mask_type,
    photon_noise_rv,
    synthetic_photon_noise_rv,
    synthetic_sigma,
)
from specae.analysis.verdicts import ClaimVerdict, Verdict, decide, judge

__all__ = ["ACTIVE_UNIT_NATS", "CCFResult", "CLAIMS", "COLLAPSE_KL_NATS", "ClaimCheck", "ClaimVerdict", "Convergence",
           "DisentanglementScores", "DopplerSweep", "DrawShares", "EncodedSet", "FactorScores", "FactorSensitivity",
           "HARPS_HOLE_WIDTH_KMS", "INCONCLUSIVE", "LABEL_COLUMNS", "LabelNode", "LatentShift", "MIEstimate",
           "MIIndicator", "MI_BINS", "MedianBand", "MonotonicWindow", "NOT_TESTABLE", "PaperComparison", "ProbeResult",
           "RELEASED_CHECKPOINT_ITERATIONS", "RunState", "Verdict", "all_converged", "ccf_rv", "check_c1", "check_c2",
           "check_c3", "check_c4", "check_c5", "check_c6", "check_c7", "collapsed_sizes", "compare_with_paper",
           "convergence", "decide", "disentanglement_scores", "doppler_shift_kms", "doppler_sweep", "draw_shares",
           "encode_labelled", "encode_means", "error_table", "errors_by_seed", "estimate_mi", "example_star",
           "factor_sensitivity", "harps_mask", "harps_mask_type", "histogram_mi", "informative_nodes", "judge",
           "ksg_mi", "label_node", "latent_shift", "load_published_latents", "masked_flux", "median_band",
           "mi_indicator", "mi_table", "monotonic_window", "node_dispersion", "not_testable", "object_folds",
           "one_per_star", "pca_reconstructions", "per_spectrum_l1", "photon_noise_rv", "probe_labels",
           "published_labels", "read_published_labels", "reconstruct", "reconstruction_errors", "run_state",
           "run_states", "sigma_clip_label", "state_of", "synthetic_photon_noise_rv", "synthetic_sigma", "traverse",
           "turning_ends", "unless_collapsed", "unless_rv_node", "usable"]
