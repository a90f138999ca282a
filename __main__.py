"""Pulumi program: stack config -> app.yaml -> components (see omnicloud/program.py)."""

from omnicloud.program import main

main()
