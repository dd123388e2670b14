"""The environment and what is asked of it: reading it, specs, the plan, outdated, pins."""
