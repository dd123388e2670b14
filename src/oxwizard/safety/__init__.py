"""The safety machinery: checkpoint, records, apply, staging, rollback, lock, journal,
recovery. Nothing here knows about runbooks or checks."""
