"""Opening the console imports only what its first screen needs (see docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys

# Needed later or never on the way to the inbox: other commands, the stub, Markdown, the browser.
NOT_AT_START_UP = {
    "console.cli.tasks",
    "console.cli.auth",
    "console.cli.records",
    "console.cli.stub",
    "console.screens.detail",
    "console.screens.edit",
    "console.commands",  # the palette's provider, loaded when the palette opens
    "server_stub",
    "fastapi",
    "uvicorn",
    "markdown_it",
    "textual_serve",
    # Not needed to read and paint an inbox with a token in the environment.
    "pydantic",
    "pydantic_settings",
    "client.models",
    "keyring",
}


def test_the_console_path_imports_nothing_it_does_not_show() -> None:
    code = (
        "import sys, json\n"
        "import console.cli, console.cli._context, console.launch, console.app\n"
        "import console.config, console.credentials, console.services\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "textual.app" in loaded and "client" in loaded  # the check itself works
    assert loaded & NOT_AT_START_UP == set()
