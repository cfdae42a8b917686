"""The case lifecycle table (pure)."""

from __future__ import annotations

import pytest

from chalicelib.core.case import Status
from chalicelib.core.lifecycle import FINAL, Action, IllegalTransition, apply, available


def test_the_main_path_runs_from_received_to_closed() -> None:
    status = Status.RECEIVED
    for action, expected in (
        (Action.START_HEARING, Status.HEARING),
        (Action.START_MATCHING, Status.MATCHING),
        (Action.EXPERT_ACCEPTED, Status.IN_PROGRESS),
        (Action.CLOSE, Status.CLOSED),
    ):
        outcome = apply(action, status)
        assert outcome.status is expected and outcome.changed
        status = outcome.status


def test_taking_a_case_changes_no_status() -> None:
    outcome = apply(Action.TAKE, Status.MATCHING)
    assert outcome.status is Status.MATCHING and not outcome.changed


@pytest.mark.parametrize("final", sorted(FINAL))
def test_nothing_applies_to_a_finished_case(final: Status) -> None:
    assert available(final) == []
    for action in Action:
        with pytest.raises(IllegalTransition):
            apply(action, final)


def test_spam_only_from_received_and_withdraw_from_any_open_status() -> None:
    assert Action.MARK_SPAM in available(Status.RECEIVED)
    assert Action.MARK_SPAM not in available(Status.HEARING)
    for status in (Status.RECEIVED, Status.HEARING, Status.MATCHING, Status.IN_PROGRESS):
        assert apply(Action.WITHDRAW, status).status is Status.WITHDRAWN
