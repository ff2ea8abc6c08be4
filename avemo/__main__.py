"""``python -m avemo``: the same command as ``avemo``."""

from avemo.cli import main

main()
