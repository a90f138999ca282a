"""Pulumi program of this example: the same omnicloud program as the main project."""

from omnicloud.program import main

main()
