"""Pulumi program: stack config -> app.yaml -> components (the program omnicloud ships)."""

from omnicloud.program import main

main()
