"""The floor for "time to first inbox row": fetch and decode the inbox, then paint a bare App.

Run as a script in a fresh process on a pty (``python bench/_reference_app.py URL TOKEN TENANT
PROJECT``), never imported. In this order, as the console would at best: ``import httpx, json``;
GET the same ``/v1/tasks/pending`` and ``json.loads`` it; then import Textual and run an ``App``
whose first paint shows ``READY <n> tasks``. The benchmark times spawn → that text on screen.
"""

import json
import sys

import httpx


def main() -> None:
    url, token, tenant, project = sys.argv[1:5]
    response = httpx.get(
        f"{url}/v1/tasks/pending",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Tenant-Id": tenant,
            "X-Project-Id": project,
        },
        timeout=300,
    )
    response.raise_for_status()
    tasks = json.loads(response.content)["tasks"]

    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Reference(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(f"READY {len(tasks)} tasks")

    Reference().run()


if __name__ == "__main__":
    main()
