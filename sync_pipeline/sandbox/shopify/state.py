"""Everything one sandbox instance holds; reachable in-process as `app.state.sandbox`."""

from __future__ import annotations

import random
from collections import Counter

from .bucket import LeakyBucket
from .bulk import BulkOperations, BulkResolvers
from .config import ShopifySandboxConfig
from .finance_mutations import FinanceMutations
from .fo_moves import FulfillmentOrderMoves
from .fulfilment_cancel import FulfillmentCancels
from .inventory_items import InventoryItemUpdates
from .queries import QueryResolvers
from .store import Store
from .webhooks import Dispatcher


class Root(
    QueryResolvers,
    FinanceMutations,
    FulfillmentOrderMoves,
    FulfillmentCancels,
    InventoryItemUpdates,
    BulkResolvers,
):
    """The GraphQL root value: query fields and mutation fields as methods."""

    def __init__(self, store: Store) -> None:
        self.store = store


class SandboxState:
    def __init__(self, config: ShopifySandboxConfig) -> None:
        self.config = config
        self.store = Store(config.currency, config.default_location_names)
        size, rate = config.bucket()
        self.bucket = LeakyBucket(size, rate)
        self.dispatcher = Dispatcher(self.store, config)
        self.store.emit = self.dispatcher.emit
        self.store.same_second_updates = config.faults.same_second_updates
        self.root = Root(self.store)
        self.random = random.Random(config.faults.seed)
        self.stats: Counter[str] = Counter()
        self.bulk = BulkOperations(self)

    def close(self) -> None:
        self.bulk.close()
        self.dispatcher.close()
