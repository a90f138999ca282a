"""Project templates of `omnicloud init` (package data: each directory is copied into a new project)."""
