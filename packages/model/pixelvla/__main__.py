"""`python -m pixelvla ...` is the `pixelvla` command (the GPU server launches runs this way)."""

from .cli import main

main()
