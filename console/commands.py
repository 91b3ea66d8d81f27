"""The command palette: every key binding of the current screen, plus workflows, views and sorts.

Commands are generated from bindings, so the palette can never fall behind the keys.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from .inbox_model import SortKey
from .safe_text import clean

if TYPE_CHECKING:
    from .screens.inbox import InboxScreen


class TaskCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        screen = self.screen
        commands: list[tuple[str, str, Callable[[], object]]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen or not active.enabled:
                continue
            if binding.action in ("command_palette",):
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            commands.append(
                (binding.description, f"key: {key}", partial(screen.run_action, binding.action))
            )
        from .screens.inbox import InboxScreen

        if isinstance(screen, InboxScreen):
            commands.extend(self._inbox_commands(screen))
        return commands

    def _inbox_commands(self, screen: InboxScreen) -> list[tuple[str, str, Callable[[], object]]]:
        inbox = screen.services.inbox
        from .runs_model import Section

        found: list[tuple[str, str, Callable[[], object]]] = [
            (f"Section: {s.title}", f"key: {s.value}", partial(screen.show_section, s))
            for s in Section
        ]
        found.append(("Show all workflows", "key: Esc", partial(screen.restrict_to, None)))
        for workflow in inbox.workflows():
            label = clean(workflow.label, max_len=50, multiline=False)
            found.append(
                (
                    f"Show only workflow: {label} ({workflow.count})",
                    "or the filter workflow:",
                    partial(screen.restrict_to, None, workflow.workflow_id),
                )
            )
        for name, text in screen.services.settings.views.items():
            found.append(
                (
                    f"View: {clean(name, max_len=30, multiline=False)}"
                    f" ({clean(text, max_len=40, multiline=False)})",
                    "keys: [ ] cycle",
                    partial(screen.show_named_view, name),
                )
            )
        for sort in SortKey:
            found.append((f"Sort by {sort.value}", "key: s cycles", partial(screen.set_sort, sort)))
        return found

    async def discover(self) -> AsyncGenerator[DiscoveryHit, None]:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(Content(name), callback, help=help_text)

    async def search(self, query: str) -> AsyncGenerator[Hit, None]:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, _highlight(matcher, name), callback, help=help_text)


def _highlight(matcher: Matcher, text: str) -> Content:
    """Matched letters underlined, on *plain* content: ``Matcher.highlight`` parses markup, and
    workflow names come from the server."""
    content = Content(text)
    _, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize("bold underline", offset, offset + 1)
    return content
