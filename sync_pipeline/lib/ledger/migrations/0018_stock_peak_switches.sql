-- Peak mode's switches on and off (stock_buffers.yaml `peak`: a larger buffer while orders arrive
-- faster than a threshold), one row per switch, newest last: what ops read to see when the store
-- went into peak mode and what it set off. A switch changes the target of every listing whose
-- buffer is not the SKU's own, so the run that records it queues those listings' items for the
-- next stock run (`items_queued`), or asks for one full reconcile when they are more than an
-- incremental run reads (`reconcile`). Recorded once: the next run compares with the newest row.
CREATE SEQUENCE stock_peak_switches_seq START 1;
CREATE TABLE stock_peak_switches (
    switch_id           BIGINT PRIMARY KEY DEFAULT nextval('stock_peak_switches_seq'),
    switched_at         TIMESTAMP NOT NULL,
    peak                BOOLEAN NOT NULL,          -- true: peak mode began; false: it ended
    orders_in_window    INTEGER NOT NULL,          -- the order rate's count that decided it
    window_minutes      INTEGER NOT NULL,
    orders_per_minute   DOUBLE,                    -- the threshold (NULL: no peak mode configured)
    listings_changed    INTEGER NOT NULL,          -- SKU-locations whose last target the switch moves
    items_queued        INTEGER NOT NULL,          -- Peoplevox items queued for the next stock run
    reconcile           BOOLEAN NOT NULL,          -- too many for an incremental run: one reconcile
    actor               VARCHAR NOT NULL
);
