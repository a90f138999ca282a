"""The shop's Pulumi program: omnicloud's, unchanged."""

from omnicloud.program import main

main()
