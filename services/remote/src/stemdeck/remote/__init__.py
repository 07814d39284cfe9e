"""`stemdeck remote`: submit, follow and download jobs on any Stemdeck server over its
REST API. It imports nothing of stemdeck.core (no database, no torch): httpx, typer and
rich only."""
