"""Despatches back to Shopify: read Peoplevox's despatched packages, fulfil each in Shopify once.

One module per step: `read` (Despatch summary → ledger), `in_doubt` (finish fulfilments whose
outcome is unknown), `plan` (pure: packages → Shopify fulfilments or exceptions), `fulfil`
(write-ahead, fulfillmentCreate, record), `tracking` (late tracking numbers), `run` (the order).
"""
