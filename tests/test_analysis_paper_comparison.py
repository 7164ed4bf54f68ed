"""The §6 comparison table: planted RV and Teff nodes are found, with MI that matches the truth."""

import numpy as np
import pytest

from specae.analysis import compare_with_paper, label_node


@pytest.fixture(scope="module")
def planted():
    """16 nodes: node 3 a noisy function of RV, node 9 of Teff, nodes 0 and 5 vary with nothing, rest ≈ constant."""
    rng = np.random.default_rng(1)
    n = 3000
    rv, teff = rng.uniform(-100, 100, n), rng.uniform(3_500, 7_000, n)
    mu = rng.normal(0, 0.001, (n, 16))
    mu[:, 3] = rv / 50 + rng.normal(0, 0.1, n)
    mu[:, 9] = -(teff - 5_000) / 1_000 + rng.normal(0, 0.1, n)
    mu[:, [0, 5]] = rng.normal(0, 1, (n, 2))
    return mu, dict(rv=rv, teff=teff)


def test_label_node_finds_the_planted_node_and_its_information(planted):
    mu, labels = planted
    varying = [0, 3, 5, 9]  # the nodes that vary (the rest is ≈ constant): the candidates the comparison would give
    rv = label_node(mu, labels["rv"], "rv", n_bootstrap=20, n_null=100, candidates=varying)
    assert rv.node == 3 and rv.above_noise
    # The best-node null: per shuffle the largest MI over the four candidates; shuffled labels share ~0 with each.
    assert 0 <= rv.best_null < 0.05 and rv.above_best_null
    # For y = x/50·(uniform, width 200 → std 1.155) plus N(0, 0.1) noise, MI ≈ ln(4/(0.1·√(2πe))) ≈ 2.35 nats.
    assert rv.ksg == pytest.approx(2.35, abs=0.15)
    assert rv.second_node != 3 and rv.second_ksg < 0.05  # no other node knows RV
    teff = label_node(mu, labels["teff"], "teff", n_bootstrap=20, n_null=100, candidates=varying)
    assert teff.node == 9


def test_comparison_table_counts_informative_nodes_and_names_the_nodes(planted):
    mu, labels = planted
    comparison = compare_with_paper(mu, labels, n_bootstrap=20, n_null=100)
    table = comparison.table
    assert comparison.informative.tolist() == [0, 3, 5, 9] and comparison.nodes["rv"].node == 3
    rows = dict(zip(table["quantity"], table["ours"], strict=True))
    assert rows["informative nodes (MAD > 0.02)"] == "4 of 16"
    assert rows["RV node"] == "z3" and rows["Teff node"] == "z9"
    assert dict(zip(table["quantity"], table["paper"], strict=True))["RV node"] == "z124"


def test_without_informative_nodes_every_node_is_a_candidate(planted):
    mu, labels = planted
    quiet = mu[:600] * 0.001  # every MAD below 0.02; 600 points find the node as well as 3,000, 5 × faster
    comparison = compare_with_paper(quiet, {name: label[:600] for name, label in labels.items()}, n_bootstrap=5,
                                    n_null=100)
    assert comparison.informative.size == 0 and comparison.nodes["rv"].node == 3
