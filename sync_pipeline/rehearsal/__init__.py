"""`sync-pipeline rehearse`: every flow at once at a peak, with faults, checked against both sandboxes."""
