"""The runbook: its model, its git repository, the replay report."""
