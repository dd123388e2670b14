"""``python -m oxwizard``."""

from oxwizard.cli import main

raise SystemExit(main())
