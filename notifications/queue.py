"""Queue mail in the outbox, in the same transaction as the change that caused it."""

from __future__ import annotations


def queue_exclusion_notices(campaign, silent_clause) -> int:
    return 0


def queue_receipt(campaign, unit, submission) -> None:
    return None


def queue_unit_notice(campaign, unit, kind, *, reason="", occurrence="") -> None:
    return None


def replan_reminders(campaign, now) -> None:
    return None


def plan_reminders(now) -> int:
    return 0
