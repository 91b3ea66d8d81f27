"""What the app and its screens tell each other: typed messages, so each says in its type
what it hears.

InboxChanged and StatusChanged are posted by the app to every console screen on the stack (not
only the one on top: the inbox under a detail screen must keep its rows current); they do not
bubble back up. DecisionMade goes the other way: a screen hands the app a confirmed decision.
"""

from __future__ import annotations

from textual.message import Message

from .decisions import Decision
from .inbox_model import RowDiff


class InboxChanged(Message, bubble=False):
    """A refresh or a decision changed these rows (an empty diff: markers and ages only)."""

    def __init__(self, diff: RowDiff) -> None:
        super().__init__()
        self.diff = diff


class RunsChanged(Message, bubble=False):
    """A runs feed came in (or failed): the sections, badges and run views follow it."""


class StatusChanged(Message, bubble=False):
    """The link, the pause or the counts of unsettled decisions changed."""


class DecisionMade(Message):
    """The operator confirmed a decision; the app records it in the outbox and sends it."""

    def __init__(self, decision: Decision) -> None:
        super().__init__()
        self.decision = decision
