"""Latent-space analysis (paper §6 and beyond): informative nodes, mutual information with labels,
disentanglement scores against true factors, label probes, latent traversals, the released files."""

from specae.analysis.disentanglement import DisentanglementScores, FactorScores, disentanglement_scores
from specae.analysis.informative import informative_nodes, node_dispersion
from specae.analysis.latents import encode_means
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
from specae.analysis.published import LABEL_COLUMNS, load_published_latents, published_labels, read_published_labels
from specae.analysis.traversal import MonotonicWindow, doppler_shift_kms, monotonic_window, traverse

__all__ = [
    "DisentanglementScores", "FactorScores", "LABEL_COLUMNS", "LabelNode", "MIEstimate", "MIIndicator", "MI_BINS",
    "MonotonicWindow", "PaperComparison", "ProbeResult", "compare_with_paper", "disentanglement_scores",
    "doppler_shift_kms", "encode_means", "estimate_mi", "histogram_mi", "informative_nodes", "ksg_mi", "label_node",
    "load_published_latents", "mi_indicator", "mi_table", "monotonic_window", "node_dispersion", "object_folds",
    "probe_labels", "published_labels", "read_published_labels", "sigma_clip_label", "traverse",
]
