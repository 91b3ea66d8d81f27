"""The inbox's filter language: what the ``/`` box, ``--filter`` and named views understand.

    workflow:crm  type:review  run:29d8  age>30m  age<2h  stalled  new  marked  !word  free words

Terms AND together; ``!`` negates one. A free word matches the title, the workflow, the run and
the payload (field values, description); ``workflow:`` and ``type:`` match part of the name,
``run:`` the start of the run ID (with or without ``run_``). Double quotes keep spaces in one
term (``"acme api"``, ``workflow:"crm sync"``). A term still being typed (``age>``, ``run:``,
``!``) matches everything until it is complete, and the status line says what it lacks.

Plain Python: parsed once per keystroke, matched by :mod:`console.inbox_model`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass


class Kind(enum.StrEnum):
    WORD = "word"
    WORKFLOW = "workflow"
    TYPE = "type"
    RUN = "run"
    OLDER = "age>"  # value: seconds
    YOUNGER = "age<"
    STALLED = "stalled"
    NEW = "new"
    MARKED = "marked"


_FLAGS = {"stalled": Kind.STALLED, "new": Kind.NEW, "marked": Kind.MARKED}
_NAMED = {"workflow": Kind.WORKFLOW, "type": Kind.TYPE, "run": Kind.RUN}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_AGE = re.compile(r"^age([<>])(.*)$")
# A term: an optional "!", then either a quoted phrase or a run of non-space characters that may
# hold one quoted part after "name:" (workflow:"crm sync").
_TOKEN = re.compile(r'!?(?:"[^"]*"?|[^\s"]+(?:"[^"]*"?)?)')


@dataclass(frozen=True)
class Term:
    kind: Kind
    value: str | float = ""  # lower-cased text, or seconds for the age terms
    negated: bool = False

    def implies(self, other: Term) -> bool:
        """Every row this term matches also matches ``other`` (a narrowed filter)."""
        if self == other:
            return True
        if self.kind is not other.kind or self.negated or other.negated:
            return False
        if self.kind in (Kind.WORD, Kind.WORKFLOW, Kind.TYPE):
            return str(other.value) in str(self.value)
        if self.kind is Kind.RUN:
            return str(self.value).startswith(str(other.value))
        if self.kind is Kind.OLDER:
            return float(self.value) >= float(other.value)
        if self.kind is Kind.YOUNGER:
            return float(self.value) <= float(other.value)
        return False

    @property
    def uses_clock(self) -> bool:
        return self.kind in (Kind.OLDER, Kind.YOUNGER, Kind.STALLED)


@dataclass(frozen=True)
class Query:
    """A parsed filter: the terms that count, and what is wrong with the ones that do not."""

    terms: tuple[Term, ...] = ()
    problems: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def narrows(self, wider: Query) -> bool:
        """Every row matching this query also matches ``wider``: a scan of ``wider``'s rows
        finds all of this one's (typing on narrows; backspace does not)."""
        return all(any(t.implies(w) for t in self.terms) for w in wider.terms)

    @property
    def words(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.kind is Kind.WORD)

    def uses(self, kind: Kind) -> bool:
        return any(t.kind is kind for t in self.terms)

    @property
    def uses_clock(self) -> bool:
        return any(t.uses_clock for t in self.terms)


def _unquote(text: str) -> str:
    return text.replace('"', "")


def duration(text: str) -> float | None:
    """``30m`` → 1800.0; None if it is not a number with one of the units s, m, h, d."""
    found = _DURATION.match(text)
    return float(found[1]) * _UNITS[found[2]] if found else None


def _term(token: str) -> Term | str | None:
    """One term, a sentence about why it does not count yet, or None (nothing to match)."""
    negated = token.startswith("!")
    body = token[1:] if negated else token
    if not body:
        return "! needs a term after it"
    lowered = body.casefold()
    if lowered in _FLAGS:
        return Term(_FLAGS[lowered], negated=negated)
    age = _AGE.match(lowered)
    if age:
        seconds = duration(age[2])
        if seconds is None:
            return f"age{age[1]} needs a duration like 30m, 2h or 1d"
        return Term(Kind.OLDER if age[1] == ">" else Kind.YOUNGER, seconds, negated)
    name, colon, value = lowered.partition(":")
    if colon and name in _NAMED:
        value = _unquote(value)
        if not value:
            return f"{name}: needs a value"
        return Term(_NAMED[name], value, negated)
    word = _unquote(lowered)
    return Term(Kind.WORD, word, negated) if word else None


def parse(text: str) -> Query:
    """The query in ``text``; never fails (what it cannot read is in ``problems``)."""
    terms: list[Term] = []
    problems: list[str] = []
    for token in _TOKEN.findall(text):
        term = _term(token)
        if isinstance(term, Term):
            if term not in terms:
                terms.append(term)
        elif term is not None:
            problems.append(term)
    return Query(tuple(terms), tuple(problems))


def word_hits(words: Sequence[Term], texts: Sequence[str]) -> list[bool]:
    """Which of ``texts`` (case-folded search texts) hold every positive word of ``words``
    and none of the negated ones: the scan of a filter keystroke, for tasks and runs alike."""
    if len(words) == 1 and not words[0].negated:
        word = str(words[0].value)
        return [word in text for text in texts]
    pairs = [(str(w.value), w.negated) for w in words]
    return [all((word in text) is not negated for word, negated in pairs) for text in texts]
