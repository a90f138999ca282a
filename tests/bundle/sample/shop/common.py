"""Code shared by the web and jobs functions."""


def greeting(name: str) -> str:
    return f"hello {name}"
