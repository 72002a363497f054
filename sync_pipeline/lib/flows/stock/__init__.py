"""Stock from Peoplevox to Shopify: incremental, buffered, velocity-first, never zeroing the store.

One module per step: `hints` (AvailabilityChanges callbacks → the queue of items to re-read),
`snapshot` (Item inventory summary → ledger, with the circuit breaker's verdict), `listings` (what
we publish, with recipes, buffers and velocity), `inputs` (the ledger's orders as units awaiting
allocation), `push` (targets → inventorySetQuantities with compare-and-set, write-ahead),
`in_doubt` (pushes whose answer was lost), `mismatch` (sites and locations that do not pair up),
`accept` (a person accepts a suspect snapshot). `ports` says what the flow needs of each system.
"""
