from __future__ import annotations

import pytest

from lakeforge.ledger import LedgerImbalanceError, RunLedger


def test_balanced_ledger_passes() -> None:
    ledger = RunLedger("customers", rows_in=100, published=80, quarantined=12,
                       merged_duplicates=5)
    ledger.remove("null key", 2)
    ledger.remove("null key", 1)
    ledger.check()
    assert ledger.to_dict()["removed_by_rule"] == {"null key": 3}
    assert ledger.balanced


def test_empty_ledger_balances() -> None:
    RunLedger("empty").check()


def test_imbalance_names_every_term() -> None:
    ledger = RunLedger("contacts", rows_in=10, published=7, quarantined=1)
    with pytest.raises(LedgerImbalanceError) as err:
        ledger.check()
    msg = str(err.value)
    assert "contacts" in msg and "rows_in 10" in msg and "difference 2" in msg
    with pytest.raises(ValueError, match="must be >= 0"):
        ledger.remove("x", -1)
