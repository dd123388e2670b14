"""The wizard's screens: prepare, execute, monitor, and the modals (help, confirm, resume, runbook)."""
