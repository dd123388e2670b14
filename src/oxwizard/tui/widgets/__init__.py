"""Reusable wizard widgets: title bar, steps checklist, targets table, plan view."""
