"""Widgets of the console; `safe_text` is the only way server text reaches the screen."""
