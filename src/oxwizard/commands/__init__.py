"""One module per CLI verb (``add_parser`` + ``run``); :data:`oxwizard.cli.VERBS` lists them."""
