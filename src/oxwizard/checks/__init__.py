"""Evidence: the checks that say whether an upgrade worked (tests, warnings, compatibility,
performance, error logs, data, security), the monitoring window and the risk summary.

Every check returns a :class:`oxwizard.checks.result.CheckResult`; a phase of the flow runs a set
of them with :func:`oxwizard.checks.suite.run_checks` and gets a :class:`CheckSet`.
"""
