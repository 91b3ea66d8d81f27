"""The base of every full screen: typed access to the app and its services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from ..services import ConsoleServices

if TYPE_CHECKING:
    from ..app import CommandCenterApp


class ConsoleScreen(Screen[None]):
    @property
    def cc(self) -> CommandCenterApp:
        return self.app  # type: ignore[return-value]

    @property
    def services(self) -> ConsoleServices:
        return self.cc.services
