"""An unchanged poll must not reach the terminal: over SSH every repaint is bytes on the wire."""

from __future__ import annotations

from typing import Any

import pytest
from textual.geometry import Region
from textual.widget import Widget

from .conftest import ConsoleFactory, wait_for
from .test_console_flows import loaded


async def test_polls_that_change_nothing_repaint_nothing(
    make_console: ConsoleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_console()
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(app, pilot)
        await pilot.pause(0.3)
        repaints: list[tuple[str, Any]] = []
        original = Widget.refresh

        def spy(self: Widget, *regions: Region, **kwargs: Any) -> Any:
            repaints.append((type(self).__name__, regions or kwargs))
            return original(self, *regions, **kwargs)

        services = app.services
        poll = services.refresh_inbox
        done: list[object] = []

        async def counted() -> Any:
            diff = await poll()
            done.append(diff)
            return diff

        monkeypatch.setattr(services, "refresh_inbox", counted)
        monkeypatch.setattr(Widget, "refresh", spy)
        for n in range(1, 4):
            app.refresh_inbox()
            await wait_for(lambda n=n: len(done) == n, pilot.pause)
            await pilot.pause(0.1)
        assert not any(done)  # nothing changed on the server
        assert repaints == []
