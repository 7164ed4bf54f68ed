"""Latent-space analysis (paper §6 and beyond): reconstruction against bottleneck size, informative nodes,
mutual information with labels, disentanglement scores against true factors, label probes, latent traversals,
the split's latent shift, where the sampler's draws go, the paper's claims and the released files."""

from specae.analysis.bottleneck import (
    FAMILIES,
    bottleneck_runs,
    error_table,
    errors_by_size,
    example_star,
    masked_flux,
    pca_reconstruct,
    per_spectrum_l1,
    reconstruct,
    reconstruction_errors,
)
from specae.analysis.claims import (
    CLAIMS,
    ClaimCheck,
    check_c1,
    check_c2,
    check_c3,
    check_c4,
    check_c5,
    check_c6,
    check_c7,
)
from specae.analysis.disentanglement import DisentanglementScores, FactorScores, disentanglement_scores
from specae.analysis.draw_shares import DrawShares, draw_shares
from specae.analysis.informative import informative_nodes, node_dispersion
from specae.analysis.latent_shift import LatentShift, latent_shift
from specae.analysis.latents import EncodedSet, encode_labelled, encode_means, usable
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
from specae.analysis.traversal import (
    DopplerSweep,
    MonotonicWindow,
    doppler_shift_kms,
    doppler_sweep,
    monotonic_window,
    traverse,
)

__all__ = ["CLAIMS", "ClaimCheck", "DisentanglementScores", "DopplerSweep", "DrawShares", "EncodedSet", "FAMILIES",
           "FactorScores", "LABEL_COLUMNS", "LabelNode", "LatentShift", "MIEstimate", "MIIndicator", "MI_BINS",
           "MonotonicWindow", "PaperComparison", "ProbeResult", "RELEASED_CHECKPOINT_ITERATIONS", "bottleneck_runs",
           "check_c1", "check_c2", "check_c3", "check_c4", "check_c5", "check_c6", "check_c7", "compare_with_paper",
           "disentanglement_scores", "doppler_shift_kms", "doppler_sweep", "draw_shares", "encode_labelled",
           "encode_means", "error_table", "errors_by_size", "estimate_mi", "example_star", "histogram_mi",
           "informative_nodes", "ksg_mi", "label_node", "latent_shift", "load_published_latents", "masked_flux",
           "mi_indicator", "mi_table", "monotonic_window", "node_dispersion", "object_folds", "pca_reconstruct",
           "per_spectrum_l1", "probe_labels", "published_labels", "read_published_labels", "reconstruct",
           "reconstruction_errors", "sigma_clip_label", "traverse", "usable"]
