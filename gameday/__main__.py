"""`python -m gameday` is the `gameday` command."""

from gameday.cli import main

main()
