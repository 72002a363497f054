"""`inventoryItemUpdate`: a merchant turns "Track quantity" on or off for a variant in the admin.

Assumptions (stricter where the sandbox does not model a field): only `tracked` is applied; any other
input field (cost, SKU, country of origin…) is refused with a user error naming it, changing
nothing, rather than accepted and dropped. An unknown item is a user error too (messages ours).
"""

from __future__ import annotations

from typing import Any

from .ids import parse_gid
from .mutations import MutationResolvers
from .store import Store
from .views import ItemView


def _refused(field: list[str], message: str) -> dict[str, Any]:
    return {"inventoryItem": None, "userErrors": [{"field": field, "message": message}]}


class InventoryItemUpdates(MutationResolvers):
    store: Store

    def inventoryItemUpdate(self, info: Any, id: str, input: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        with store.lock:
            item = store.items.get(parse_gid(id, "InventoryItem") or -1)
            if item is None:
                return _refused(["id"], "Inventory item does not exist.")
            other = sorted(k for k in input if k != "tracked")
            if other:
                return _refused(
                    ["input", other[0]], f"The sandbox does not model {other[0]!r}; only tracked."
                )
            if input.get("tracked") is not None:
                item.tracked = bool(input["tracked"])
            return {"inventoryItem": ItemView(store, item), "userErrors": []}
