"""§6 of one model on one spectrum per star, on a model built to behave like the released one: a node that
follows RV as an S-curve (linear near 0, turning back beyond ±50 km/s), a node that follows Teff, a decoder
that Doppler-shifts a line spectrum by the RV node, and the other nodes silent."""

import dataclasses

import numpy as np
import pytest
import torch
from astropy.table import Table

from specae.analysis.bottleneck import star_errors, star_means
from specae.analysis.latent_report import COLLAPSED_ROW, informative_counts, latent_report, paper_comparison_of
from specae.constants import SPEED_OF_LIGHT_KMS
from specae.model.autoencoder import AutoencoderOutput
from specae.spectra.grid import Grid
from specae.spectra.spectra_set import SpectraSet

GRID = Grid.window(5_000.0, 1_024, 4)  # 0.04 Å (2.4 km/s) pixels, as in the study
N_STARS, LATENT = 300, 6
TURN_KMS = 50.0  # where the RV node's S-curve turns back
KMS_PER_UNIT = 100.0  # the decoder's Doppler shift per unit of the RV node


def s_curve(rv):
    """The RV node's value: rises through 0, peaks at ±TURN_KMS and falls back beyond."""
    return rv / TURN_KMS * np.exp(-0.5 * (rv / TURN_KMS) ** 2)


class PaperLikeModel(torch.nn.Module):
    """Encoder: μ = the first LATENT pixels of the (n, 1, n_pix) input (where the survey below stores each
    spectrum's code). Decoder: (m, LATENT) → (m, 1, n_pix) lines shifted by KMS_PER_UNIT × z0 km/s."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # gives the analysis a device to read
        wavelength = torch.as_tensor(GRID.wavelength, dtype=torch.float64)
        self.register_buffer("wavelength", wavelength)
        self.register_buffer("centres", torch.linspace(float(wavelength[40]), float(wavelength[-40]), 25))

    def encode(self, x):
        mu = x[:, 0, :LATENT]
        return mu, torch.zeros_like(mu)

    def forward(self, x):  # eval mode: z = μ, as the released model's inference
        mu, logvar = self.encode(x)
        return AutoencoderOutput(reconstruction=self.decode(mu), mu=mu, logvar=logvar, z=mu)

    def decode(self, z):
        shift = 1.0 + KMS_PER_UNIT * z[:, :1].double() / SPEED_OF_LIGHT_KMS  # (m, 1)
        offsets = self.wavelength[None, :, None] - self.centres[None, None, :] * shift[:, :, None]
        return (1.0 - 0.6 * torch.exp(-0.5 * (offsets / 0.08) ** 2).sum(-1)).float()[:, None, :]


def survey(spectra_per_star: int = 2, seed: int = 0) -> SpectraSet:
    """N_STARS stars with ``spectra_per_star`` spectra each; each spectrum stores its code in its first pixels."""
    rng = np.random.default_rng(seed)
    rv = np.repeat(rng.uniform(-120.0, 120.0, N_STARS), spectra_per_star)
    teff = np.repeat(rng.uniform(4_000.0, 7_000.0, N_STARS), spectra_per_star)
    n = rv.size
    code = 0.001 * rng.standard_normal((n, LATENT))  # silent nodes: MAD far below 0.02
    code[:, 0] += s_curve(rv) + 0.005 * rng.standard_normal(n)
    code[:, 1] += (teff - 5_500.0) / 1_000.0
    flux = np.ones((n, GRID.n_pixels), dtype=np.float32)
    flux[:, :LATENT] = code
    labels = Table({"object_id": np.repeat(np.arange(N_STARS), spectra_per_star), "rv": rv, "teff": teff,
                    "snr": rng.uniform(20.0, 200.0, n)}
                   | {name: rng.standard_normal(n) for name in ("logg", "feh", "vsini", "berv", "airmass")})
    return SpectraSet(flux=torch.as_tensor(flux), mask=torch.ones(n, GRID.n_pixels, dtype=torch.bool),
                      degenerate=np.zeros(n, dtype=bool), labels=labels)


@pytest.fixture(scope="module")
def report():
    data = survey()
    stars = np.arange(0, len(data), 2)  # the first spectrum of each star
    return latent_report(PaperLikeModel(), data, stars, GRID, rv_bin_width=10.0, seed=0)


def test_the_report_finds_the_paper_like_nodes_and_their_claims_hold(report):
    assert report.indices.size == N_STARS and report.mu.shape == (N_STARS, LATENT)
    assert list(report.comparison.informative) == [0, 1]
    assert (report.rv_node, report.teff_node) == (0, 1)
    # Each node is a near-deterministic function of its label over 300 stars: KSG MI well above 1 nat.
    assert report.comparison.nodes["rv"].ksg > 1.0 and report.comparison.nodes["teff"].ksg > 1.0
    # Shuffled labels share almost nothing with either node: the best-node null's 95th percentile is far below 1 nat.
    assert all(node.best_null < 0.1 for node in report.comparison.nodes.values())
    assert report.c5("rv").holds and report.c5("teff").holds


def test_the_rv_window_stops_where_the_s_curve_turns_and_the_traversal_shifts_across_it(report):
    # The curve peaks at ±50 km/s: the window's ends lie within one 10 km/s bin of it, and the median turns back.
    assert abs(report.window.low + TURN_KMS) <= 10.0 and abs(report.window.high - TURN_KMS) <= 10.0
    assert sorted(report.turning) == ["high", "low"]
    # Decoding the window's medians moves the lines by KMS_PER_UNIT × (s(high) − s(low)); the medians of
    # the outermost bins sit up to a bin inside the peak, and cross-correlation resolves far below a pixel.
    span = KMS_PER_UNIT * (s_curve(report.window.high) - s_curve(report.window.low))
    assert report.sweep.span == pytest.approx(span, rel=0.15)
    assert np.all(np.diff(report.sweep.shifts) > 0)
    assert report.c6().holds


def test_a_reports_row_has_the_collapsed_rows_columns(report):
    row = report.row()
    assert list(row) == list(COLLAPSED_ROW)
    assert row["informative nodes"] == 2 and row["RV node, MI (nats)"].startswith("z0, ")
    assert row["C5 RV"] == row["C5 Teff"] == row["C6"] == "✓"


def test_paper_comparison_of_encodes_the_stars_given():
    data = survey()
    encoded, comparison = paper_comparison_of(PaperLikeModel(), data, np.arange(0, 400, 2))
    assert encoded.mu.shape == (200, LATENT) and np.array_equal(encoded.labels["rv"], data.labels["rv"][0:400:2])
    assert comparison.nodes["rv"].node == 0


def test_informative_counts_count_the_nodes_above_the_threshold_at_each_size():
    class Silent(PaperLikeModel):
        def encode(self, x):
            mu = 0.001 * x[:, 0, 2:LATENT]  # the silent nodes only
            return mu, torch.zeros_like(mu)

    data = survey()
    counts = informative_counts({6: PaperLikeModel(), 4: Silent()}, data, np.arange(0, len(data), 2), threshold=0.02)
    assert counts == {6: 2, 4: 0}


def test_star_errors_weigh_stars_equally():
    class Ones(PaperLikeModel):
        def decode(self, z):
            return torch.ones(z.shape[0], 1, 4)

    flux = torch.tensor([[1.0, 1.0, 1.0, 3.0]] * 3 + [[5.0, 5.0, 5.0, 5.0]])  # L1 0.5, 0.5, 0.5 and 4
    data = SpectraSet(flux=flux, mask=torch.ones(4, 4, dtype=torch.bool), degenerate=np.zeros(4, dtype=bool),
                      labels=Table({"object_id": [7, 7, 7, 3]}))
    r, per_spectrum = star_errors(Ones(), data, [0, 1, 2, 3])
    assert np.array_equal(per_spectrum, [0.5, 0.5, 0.5, 4.0])
    assert r == 2.25  # (0.5 + 4) / 2; the mean over spectra would be 1.375
    assert np.array_equal(star_means(per_spectrum, data.object_ids), [4.0, 0.5])  # stars 3 and 7, in id order


def test_bins_wider_than_the_velocity_span_leave_no_window_and_c6_not_testable():
    data = survey()
    report = latent_report(PaperLikeModel(), data, np.arange(0, len(data), 2), GRID, rv_bin_width=1000.0, seed=0)
    assert report.window is None and report.sweep is None and report.window_bins == 0
    assert "bins of 1000 over the stars' RV (km/s), which spans" in report.no_window
    assert report.no_window.endswith("narrow bin_width")
    assert report.c5("rv").holds  # the nodes are still read
    c6 = report.c6()
    assert c6.verdict == "not testable" and c6.ours == f"not testable: no velocity window to read: {report.no_window}"
    row = report.seed_row()
    assert row["RV window (km/s)"] == row["traversal span (km/s)"] == "none" and row["RV node"] == "z0"
    assert report.window_reading(2.3) == f"The RV node has no velocity window to read: {report.no_window}."


def test_the_window_reading_and_the_beta_study_reading_say_what_was_measured(report):
    from specae.analysis.latent_report import beta_study_reading

    text = report.window_reading(2.3, subject="The first seed's RV node")
    assert text.startswith(f"The first seed's RV node moves monotonically with the velocity from "
                           f"{report.window.low:.0f} to {report.window.high:.0f} km/s ({{numref}}`fig-rv-window`)")
    assert text.endswith(f"shifts the decoded spectrum by {report.sweep.span:.1f} km/s, against a pixel of 2.3 km/s.")
    rv, teff = report.comparison.nodes["rv"].ksg, report.comparison.nodes["teff"].ksg
    assert beta_study_reading([(0.01, 0), (0.01, 2)], {(1e-3, 0): report, (1e-3, 1): report}) == (
        "The code collapses (validation KL below 0.1 nats, or no active unit) at β = 0.01 (seeds 0, 2). Over the 2 "
        f"other runs the RV node's MI with the velocity is at most {rv:.2f} nats (C5 asks for 0.5), while the Teff "
        f"node reaches {teff:.2f} nats.")
    none_collapsed = beta_study_reading([], {(1e-3, 0): report})
    assert none_collapsed.startswith("No value of β collapses the code (validation KL below 0.1 nats, or no active "
                                     "unit). Over the 1 other run the")
    assert beta_study_reading([(10.0, 0), (100.0, 0)], {}) == (
        "The code collapses (validation KL below 0.1 nats, or no active unit) at β = 10 (seed 0); β = 100 (seed 0). "
        "No other run was trained, so no code is left to read.")


def test_the_rv_node_reading_says_whether_the_node_reads_velocities():
    from specae.analysis import LabelNode
    from specae.analysis.latent_report import rv_node_reading

    weak = LabelNode("rv", 7, 0.03, 0.01, 0.1, 0.01, False, best_null=0.05)
    assert rv_node_reading(weak) == (
        "The RV node z7 shares 0.03 nats with the velocity (KSG, one spectrum per star; C5 asks for 0.5, and "
        "shuffled velocities reach 0.05 on the best node): it is the node that knows most about the velocity, not "
        "one that reads it, so where a real star falls on it says next to nothing about its velocity.")
    strong = LabelNode("rv", 3, 1.6, 0.02, 1.2, 0.02, True, best_null=0.05)
    assert rv_node_reading(strong).endswith("so where a star falls on it says something about its velocity.")


def test_the_comparison_is_keyed_by_the_weights_and_the_spectra_not_by_the_codes(tmp_path, monkeypatch):
    """Codes one ulp away (what another CPU's kernels compute from the same weights and spectra) read the stored
    comparison; other weights compute a new one."""
    import specae.analysis.analysis_cache as analysis_cache
    import specae.analysis.latent_report as latent_report_module
    from specae.analysis.latent_report import paper_comparison_of

    monkeypatch.setenv("SPECAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(analysis_cache, "COMMITTED_DIR", tmp_path / "committed")
    data, model = survey(), PaperLikeModel()
    stars = np.arange(0, len(data), 2)
    _, stored = paper_comparison_of(model, data, stars)
    computed = []
    compare = latent_report_module.compare_with_paper
    encode = latent_report_module.encode_labelled

    def rounded_elsewhere(*args, **kwargs):
        encoded = encode(*args, **kwargs)
        return dataclasses.replace(encoded, mu=np.nextafter(encoded.mu, np.inf))

    monkeypatch.setattr(latent_report_module, "encode_labelled", rounded_elsewhere)
    monkeypatch.setattr(latent_report_module, "compare_with_paper",
                        lambda *args, **kwargs: computed.append(1) or compare(*args, **kwargs))
    assert paper_comparison_of(model, data, stars)[1].table.pformat() == stored.table.pformat() and not computed
    with torch.no_grad():
        model.centres += 1e-3  # other weights (here a buffer of the stand-in decoder)
    paper_comparison_of(model, data, stars)
    assert computed == [1]
