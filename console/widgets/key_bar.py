"""The bottom line of every screen: its keys and what they do, from the active bindings.

One widget drawing one line, where Textual's ``Footer`` composes a widget per key and composes
them all again once the bindings are known: a good part of the inbox's first frame, and again
on every screen opened (docs/performance.md). Like the ``Footer`` it shows the bindings
declared with ``show=True`` (the first key of each action), dims those a screen has disabled,
puts the command palette's key at the right end, and runs a key when it is clicked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, NamedTuple

from rich.text import Text
from textual.widget import Widget

if TYPE_CHECKING:
    from textual import events
    from textual.screen import Screen


class _Key(NamedTuple):
    key: str  # what a click presses
    shown: str  # the key as the app displays it
    description: str
    enabled: bool


class KeyBar(Widget):
    """One line of ``key description`` pairs for the screen it is on."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-bar--key",
        "key-bar--description",
        "key-bar--disabled",
        "key-bar--separator",
    }
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyBar > .key-bar--key { color: $footer-key-foreground; text-style: bold; }
    KeyBar > .key-bar--description { color: $footer-description-foreground; }
    KeyBar > .key-bar--disabled { text-style: dim; }
    KeyBar > .key-bar--separator { color: $foreground 20%; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # Where each key was drawn on the last render: (first cell, end cell, key, enabled).
        self._spans: list[tuple[int, int, str, bool]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def _keys(self) -> tuple[list[_Key], _Key | None]:
        """The keys to show, in binding order, and the command palette's (shown apart)."""
        app = self.app
        palette_key = app.COMMAND_PALETTE_BINDING if app.ENABLE_COMMAND_PALETTE else None
        keys: list[_Key] = []
        palette: _Key | None = None
        # What the screen's current view has no use for (tasks' keys in a runs section).
        hidden = getattr(self.screen, "key_bar_hidden", None)
        actions: set[str] = set(hidden() if callable(hidden) else ())
        for key, (_node, binding, enabled, _tip) in self.screen.active_bindings.items():
            entry = _Key(binding.key, app.get_key_display(binding), binding.description, enabled)
            if key == palette_key:
                palette = entry
            elif binding.show and binding.action not in actions:
                actions.add(binding.action)
                keys.append(entry)
        return keys, palette

    def render(self) -> Text:
        width = self.size.width
        keys, palette = self._keys()
        style = self.get_component_rich_style
        key_style, description_style = style("key-bar--key"), style("key-bar--description")
        disabled = style("key-bar--disabled")
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, str, bool]] = []
        tail = Text(no_wrap=True, end="")
        if palette is not None:
            tail.append("▏", style("key-bar--separator"))
            tail.append(palette.shown, key_style)
            tail.append(f" {palette.description}", description_style)
        room = width - tail.cell_len - 1
        for entry in keys:
            piece = Text.assemble(
                (entry.shown, key_style), (f" {entry.description}", description_style), " "
            )
            if not entry.enabled:
                piece.stylize(disabled)
            if line.cell_len + piece.cell_len - 1 > room:
                break  # no half keys: the help (?) lists them all
            start = line.cell_len
            line.append_text(piece)
            spans.append((start, line.cell_len - 1, entry.key, entry.enabled))
        if palette is not None:
            line.pad_right(max(0, width - tail.cell_len - line.cell_len))
            spans.append((line.cell_len, width, palette.key, palette.enabled))
            line.append_text(tail)
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, key, enabled in self._spans:
            if start <= event.x < end:
                if enabled:
                    self.app.simulate_key(key)
                else:
                    self.app.bell()
                return
