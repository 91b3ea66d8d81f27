"""One result row and the table they print as."""

from __future__ import annotations

from dataclasses import dataclass

# A target per inbox size: (up to 1,000 tasks, up to 10,000, up to 100,000); none beyond.
Targets = tuple[float | None, float | None, float | None]


def by_tier(n: int, targets: Targets) -> float | None:
    """The target for ``n`` tasks: the first tier (1,000 / 10,000 / 100,000) that holds ``n``."""
    for limit, target in zip((1_000, 10_000, 100_000), targets, strict=True):
        if n <= limit:
            return target
    return None


@dataclass(frozen=True)
class Row:
    name: str
    size: str
    value: float
    unit: str
    reference: float | None = None  # the floor measured in the same run
    target: float | None = None  # max allowed value/reference ratio, or max value if no reference
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference is None or self.reference == 0:
            return None
        return self.value / self.reference

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "–"
        measured = self.ratio if self.reference is not None else self.value
        if measured is None:
            return "–"
        return "ok" if measured <= self.target else "MISS"


def render(rows: list[Row]) -> str:
    header = ("benchmark", "n", "value", "reference", "ratio", "target", "verdict", "note")
    lines = [header]
    for row in rows:
        ratio = row.ratio
        lines.append(
            (
                row.name,
                row.size,
                f"{row.value:.3f} {row.unit}",
                f"{row.reference:.3f} {row.unit}" if row.reference is not None else "",
                f"{ratio:.2f}x" if ratio is not None else "",
                (f"≤ {row.target:g}x" if row.reference is not None else f"≤ {row.target:g}")
                if row.target is not None
                else "",
                row.verdict,
                row.note,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if i == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)
