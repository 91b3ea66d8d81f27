"""What the app tells its screens: typed messages, so a screen says in its type what it hears.

Posted by the app to every screen on the stack (not only the one on top: the inbox under a
detail screen must keep its rows current). They do not bubble back up to the app.
"""

from __future__ import annotations

from textual.message import Message

from .inbox_model import RowDiff


class InboxChanged(Message, bubble=False):
    """A refresh or a decision changed these rows (an empty diff: markers and ages only)."""

    def __init__(self, diff: RowDiff) -> None:
        super().__init__()
        self.diff = diff


class StatusChanged(Message, bubble=False):
    """The link, the pause or the counts of unsettled decisions changed."""
