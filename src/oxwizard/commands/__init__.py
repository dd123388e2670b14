"""One module per CLI verb (``add_parser`` + ``run``); :mod:`oxwizard.cli` wires them up."""
