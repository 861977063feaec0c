"""`python -m personagraph.cli` runs the `personagraph` command."""
from personagraph.cli.main import main

main()
