"""`python -m trackwell` runs the command line."""

from trackwell.cli import main

main()
