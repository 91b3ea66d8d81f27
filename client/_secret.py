"""A token that does not show itself: crash reports print locals, and a str would be printed.

Textual (rich) tracebacks with ``show_locals=True``, debuggers and ``repr()``-happy loggers all
render whatever a frame holds. Holding the token in :class:`Secret` makes every such rendering
masked; :meth:`Secret.reveal` is called in exactly one place, where the header is built.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

_MASK = "[redacted]"
# A prefix that says what kind of token it is without narrowing down which one.
_KNOWN_PREFIXES = ("pat_",)


class Secret:
    """A string that ``repr``/``str``/``format`` show as ``Secret('pat_…[redacted]')``."""

    __slots__ = ("__value",)

    def __init__(self, value: str | Secret) -> None:
        raw = value.reveal() if isinstance(value, Secret) else value
        if not isinstance(raw, str):
            raise TypeError(f"a secret must be a str, got {type(raw).__name__}")
        self.__value = raw

    def reveal(self) -> str:
        """The value itself: only for building the request header."""
        return self.__value

    def redact(self, text: str, replacement: str = "[REDACTED]") -> str:
        """``text`` with every occurrence of the value replaced (for error messages)."""
        return text.replace(self.__value, replacement) if self.__value else text

    def __bool__(self) -> bool:
        return bool(self.__value.strip())

    def __len__(self) -> int:
        return len(self.__value)

    def _masked(self) -> str:
        prefix = next((p for p in _KNOWN_PREFIXES if self.__value.startswith(p)), "")
        return f"{prefix}…{_MASK}" if prefix else _MASK

    def __repr__(self) -> str:
        return f"Secret({self._masked()!r})"

    def __str__(self) -> str:
        return self._masked()

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        mine = self.__value.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(mine, other.__value.encode("utf-8", "surrogatepass"))

    def __hash__(self) -> int:
        return hash((Secret, self.__value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is not pickled: it would write the token out")

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self  # immutable

    def __copy__(self) -> Secret:
        return self
