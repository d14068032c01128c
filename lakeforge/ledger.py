"""The run ledger: every input row is accounted for.

    rows_in = published + quarantined + merged_duplicates + sum(removed_by_rule)

A job records each count as it learns it and calls :meth:`RunLedger.check` before it commits
its bookmark; an imbalance fails the job with the numbers, so no row is lost silently.

Example::

    ledger = RunLedger("customers")
    ledger.rows_in = 1000
    ledger.published = 950
    ledger.quarantined = 30
    ledger.merged_duplicates = 15
    ledger.remove("null customer_id", 5)
    ledger.check()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lakeforge.errors import LakeforgeError


class LedgerImbalanceError(LakeforgeError):
    """Input rows do not equal published + quarantined + merged + removed."""


@dataclass
class RunLedger:
    """Row accounting for one table in one run."""

    table: str
    rows_in: int = 0
    published: int = 0
    quarantined: int = 0
    merged_duplicates: int = 0
    removed_by_rule: dict[str, int] = field(default_factory=dict)

    def remove(self, rule: str, rows: int) -> None:
        """Record rows removed on purpose by a named rule (e.g. 'late duplicate')."""
        if rows < 0:
            raise ValueError(f"rule {rule!r}: removed rows must be >= 0, got {rows}")
        self.removed_by_rule[rule] = self.removed_by_rule.get(rule, 0) + rows

    @property
    def accounted(self) -> int:
        return (self.published + self.quarantined + self.merged_duplicates
                + sum(self.removed_by_rule.values()))

    @property
    def balanced(self) -> bool:
        return self.accounted == self.rows_in

    def check(self) -> None:
        """Raise LedgerImbalanceError naming every term when the ledger does not balance."""
        if not self.balanced:
            raise LedgerImbalanceError(
                f"ledger for {self.table} does not balance: rows_in {self.rows_in} != "
                f"published {self.published} + quarantined {self.quarantined} + merged "
                f"duplicates {self.merged_duplicates} + removed {self.removed_by_rule} "
                f"(= {self.accounted}); difference {self.rows_in - self.accounted}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rows_in": self.rows_in, "published": self.published,
                "quarantined": self.quarantined, "merged_duplicates": self.merged_duplicates,
                "removed_by_rule": dict(self.removed_by_rule), "balanced": self.balanced}
