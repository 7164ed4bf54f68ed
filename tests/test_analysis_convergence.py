"""The convergence criterion on made-up histories whose verdicts are known by construction."""

import pytest

from specae.analysis.convergence import convergence


def history(values, steps_per_epoch=500):
    return [dict(step=(i + 1) * steps_per_epoch, validation_reconstruction=v) for i, v in enumerate(values)]


def test_a_flat_tail_is_converged():
    # 10 epochs: epochs 9-10 end after 80 % of the 5,000 steps; best before 0.0500, best late 0.0498 (0.4 %)
    result = convergence(history([0.09, 0.07, 0.06, 0.055, 0.052, 0.051, 0.0505, 0.0500, 0.0499, 0.0498]))
    assert result.converged and result.late_gain == pytest.approx(0.004) and result.final_excess == 0


def test_a_late_gain_of_more_than_one_percent_is_not_converged():
    result = convergence(history([0.09, 0.07, 0.06, 0.055, 0.052, 0.051, 0.0505, 0.0500, 0.0497, 0.0494]))
    assert not result.converged and result.late_gain == pytest.approx(0.012)
    assert "not converged: last-20 % gain +1.20 %" in str(result)


def test_a_final_epoch_more_than_two_percent_above_the_best_is_not_converged():
    result = convergence(history([0.09, 0.07, 0.06, 0.055, 0.052, 0.051, 0.0505, 0.0500, 0.0499, 0.0515]))
    assert not result.converged and result.final_excess == pytest.approx(0.0515 / 0.0499 - 1)  # 3.2 %


def test_a_history_without_epochs_before_the_last_fifth_is_not_testable_and_not_converged():
    result = convergence(history([0.05]))
    assert not result.testable and not result.converged
    assert result.untestable.startswith("1 epoch of 500 steps, none ending within the first 80 %")
    assert str(result).startswith("not testable: ") and result.final == 0.05
    assert convergence(history([0.09, 0.05])).testable  # one epoch before the last fifth is enough


def test_an_empty_history_is_refused():
    with pytest.raises(ValueError, match="the history is empty"):
        convergence([])


def test_the_note_names_each_run_the_criterion_cannot_judge():
    from specae.analysis.convergence import convergence_note

    judged, short = convergence(history([0.09, 0.05])), convergence(history([0.05]))
    assert convergence_note({"a": judged}) == ("Every run has epochs on both sides of its last 20 % of steps, so the "
                                               "criterion judges each.")
    assert convergence_note({"a": judged, "b": short}) == f"The criterion cannot judge b: {short.untestable}."
