"""The floor for "filter keystroke → screen": a bare Textual ``Input`` echoing keys.

Run as a script in a fresh process on a pty (``python bench/_reference_input.py``), never
imported. The App holds one ``Input`` (no placeholder, default settings), focused from the
start, and nothing else; the benchmark types a character then Backspace, alternating, and times
each key's write → the input's line showing the character (or no longer showing it).
"""

from textual.app import App, ComposeResult
from textual.widgets import Input


class Reference(App[None]):
    def compose(self) -> ComposeResult:
        yield Input()

    def on_mount(self) -> None:
        self.query_one(Input).focus()


if __name__ == "__main__":
    Reference().run()
