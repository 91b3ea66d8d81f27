"""Tasks as the console gets them: listed by the client's decoder from the JSON of a listing."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from client import ListedTask, Task
from client._task_list import decode_listing, listing_of


def listed(items: Iterable[dict[str, Any] | Task]) -> list[ListedTask]:
    """The listed tasks of a listing of ``items`` (raw task objects, or models' JSON)."""
    raws = [item.raw if isinstance(item, Task) else item for item in items]
    listing = listing_of(decode_listing(json.dumps({"tasks": raws}).encode()))
    assert not listing.unreadable, listing.unreadable
    return list(listing.tasks)
