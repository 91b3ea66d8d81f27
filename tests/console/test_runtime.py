"""The console's own garbage collection: freed cycles when idle, never while building a listing."""

from __future__ import annotations

import gc
import sys
import weakref

import pytest

from console import _runtime


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


@pytest.fixture
def manual_gc() -> object:
    _runtime.take_over()
    try:
        yield
    finally:
        _runtime.give_back()


def test_idle_collection_frees_cycles_but_not_while_busy(
    manual_gc: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not gc.isenabled()
    node = Node()
    ref = weakref.ref(node)
    del node
    monkeypatch.setattr(_runtime, "_last_young", 0.0)  # long ago
    _runtime.collect_when_idle(busy=True)
    assert ref() is not None  # a listing is being built: hands off
    _runtime.collect_when_idle(busy=False)
    assert ref() is None


def test_nothing_is_collected_by_the_console_when_gc_is_automatic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gc.disable()  # so that only the policy could collect here
    try:
        node = Node()
        ref = weakref.ref(node)
        del node
        monkeypatch.setattr(_runtime, "_last_young", 0.0)
        _runtime.collect_when_idle(busy=False)  # not taken over: not the console's business
        assert ref() is not None
    finally:
        gc.enable()
        gc.collect()


def test_threads_switch_faster_once_a_listing_is_in_and_back_after(manual_gc: object) -> None:
    default = sys.getswitchinterval()
    _runtime.after_listing(10)
    assert sys.getswitchinterval() == _runtime.INTERACTIVE_SWITCH_INTERVAL < default
    _runtime.give_back()
    assert sys.getswitchinterval() == default
    _runtime.take_over()  # for the fixture's own give_back
