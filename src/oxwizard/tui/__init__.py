"""The full-screen wizard (Textual). Renders engine results and forwards the user's decisions.

Nothing in here decides anything about an upgrade: :class:`oxwizard.flow.upgrade.UpgradeFlow` does, driven
from a thread worker through :class:`oxwizard.tui.listener.WizardListener`. The engine never
imports this package.
"""
