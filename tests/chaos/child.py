"""A console process for the kill-and-restart chaos test: decides every task until killed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.chaos._plan import decide_all, fetch_tasks, services_for


async def main(url: str, state_dir: Path) -> None:
    services = services_for(url, state_dir)
    tasks = await fetch_tasks(services)
    await decide_all(services, tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
