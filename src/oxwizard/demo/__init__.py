"""The offline demo sandbox: its wheels and its project files."""
