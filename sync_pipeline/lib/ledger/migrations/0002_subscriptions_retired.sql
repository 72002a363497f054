-- A rotated callback token: the old Peoplevox subscription is unsubscribed and kept on record
-- (when it stopped), beside the new one, so the history of what Peoplevox was told survives.
ALTER TABLE subscriptions ADD COLUMN retired_at TIMESTAMP;
