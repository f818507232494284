"""The whole directory in memory, for `GET /staff` and the handle-uniqueness check.

Why a view, and not the faust Table alone: the Table is partitioned like `herald.directory.commands`
(4 partitions), so with several workers each one holds only its partitions' accounts — fine for
deciding a command about one staff id, not for listing everyone or asking "who holds @suety?".
The options were:

- a faust `GlobalTable`: every worker reads every changelog partition. faust's global tables have a
  history of workers silently missing updates (robinhood/faust#716 and #541, still open;
  faust-streaming/faust#212, standby events lost after recovery), and they would duplicate what the
  public compacted snapshot topic already carries;
- `@app.table_route`: forwards a request to the worker owning *one key*; a list of all accounts would
  still need a scatter-gather over every worker;
- this view: every worker follows the compacted `herald.directory.accounts` snapshot (all its
  partitions, no consumer group) into a dict. Any worker answers `GET /staff`, the same way other
  teams read the directory, and one worker works trivially.

Each entry remembers the snapshot offset it came from, so the worker that made a change can apply it
at once (read-your-writes) and the follower, reading the same record later, neither repeats it nor
brings back an older value. Across workers the view is eventually consistent: two workers could each
accept the same new handle for different people within the follower's lag (a few hundred ms). That
race is accepted for the skeleton and would be closed by keying a handle-claim topic by handle.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.directory.handles import handle_key
from shared.events import StaffAccount


class DirectoryView:
    """staff id → account, plus (platform, handle) → staff id; fed by `apply` only."""

    def __init__(self) -> None:
        self._accounts: dict[str, StaffAccount] = {}
        self._positions: dict[str, tuple[int, int]] = {}
        self._owners: dict[tuple[str, str], str] = {}

    def apply(self, staff_id: str, account: StaffAccount | None, *, partition: int, offset: int) -> bool:
        """Record the snapshot record at (partition, offset); None is a tombstone (removed).

        Returns False when an equal or newer record of that staff id was already applied."""
        seen = self._positions.get(staff_id)
        if seen is not None and seen[0] == partition and seen[1] >= offset:
            return False
        self._positions[staff_id] = (partition, offset)
        old = self._accounts.pop(staff_id, None)
        if old is not None:
            key = handle_key(old.platform, old.handle)
            if self._owners.get(key) == staff_id:
                del self._owners[key]
        if account is not None:
            self._accounts[staff_id] = account
            self._owners[handle_key(account.platform, account.handle)] = staff_id
        return True

    def get(self, staff_id: str) -> StaffAccount | None:
        return self._accounts.get(staff_id)

    def accounts(self, *, include_private: bool) -> list[StaffAccount]:
        """Accounts sorted by name (then id), private ones only when asked."""
        chosen = (a for a in self._accounts.values() if include_private or not a.private)
        return sorted(chosen, key=lambda a: (a.name.casefold(), a.staff_id))

    @property
    def handle_owners(self) -> Mapping[tuple[str, str], str]:
        return self._owners

    def __len__(self) -> int:
        return len(self._accounts)
