"""What every part uses: errors, child processes, redaction, the project's configuration,
the two `.oxwizard` places, test hooks."""
