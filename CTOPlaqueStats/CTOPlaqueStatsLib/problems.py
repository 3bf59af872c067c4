"""Problems found in the data: collected, never raised, so that the other analyses still run."""

from __future__ import annotations


class ProblemLog:
    """Ordered list of {"where", "message"}; every skipped row or analysis is recorded here."""

    def __init__(self):
        self.items = []

    def add(self, where: str, message: str) -> None:
        self.items.append({"where": where, "message": message})

    def __len__(self):
        return len(self.items)

    @classmethod
    def from_table(cls, table) -> "ProblemLog":
        log = cls()
        for row in table.to_dict("records"):
            log.add(str(row["where"]), str(row["message"]))
        return log
