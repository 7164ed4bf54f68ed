"""What only the book's chapters use: papermill parameter checks and the chapters' set-up, citable figures
with provenance, the numbers they glue into their text, the chapters' figures, and the scorecard's display."""

from specae.book.chapter import glue_claim, glue_values, publish_figure, set_up_chapter
from specae.book.data_figures import (
    plot_grid_and_mask,
    plot_normalised_histograms,
    plot_population,
    plot_spectrum_pair,
    plot_visibility,
)
from specae.book.facts import architecture_facts, grid_facts, label_node_facts, paper_latent_facts
from specae.book.figures import (
    LINE_WINDOWS,
    line_windows,
    plot_convergence,
    plot_error_vs_bottleneck,
    plot_loss_history,
    plot_reconstructions,
)
from specae.book.latent_figures import (
    plot_dispersion_stems,
    plot_mi_indicator,
    plot_node_scatters,
    plot_real_on_node,
    plot_rv_window,
)
from specae.book.model_figures import architecture_summary, format_summary, plot_architecture
from specae.book.parameters import check_parameters
from specae.book.provenance import publish_unavailable
from specae.book.split_figures import plot_error_distributions, plot_error_vs_visibility, plot_latent_distributions

__all__ = ["LINE_WINDOWS", "architecture_facts", "architecture_summary", "check_parameters", "format_summary",
           "glue_claim", "glue_values", "grid_facts", "label_node_facts", "line_windows", "paper_latent_facts",
           "plot_architecture", "plot_convergence", "plot_dispersion_stems", "plot_error_distributions",
           "plot_error_vs_bottleneck", "plot_error_vs_visibility", "plot_grid_and_mask", "plot_latent_distributions",
           "plot_loss_history", "plot_mi_indicator", "plot_node_scatters", "plot_normalised_histograms",
           "plot_population", "plot_real_on_node", "plot_reconstructions", "plot_rv_window", "plot_spectrum_pair",
           "plot_visibility", "publish_figure", "publish_unavailable", "set_up_chapter"]
