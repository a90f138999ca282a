"""Topic filter semantics ({attribute: value | [values]}): the one definition the clouds' own filter
syntaxes translate (spec/filters.py) and subscribers check themselves where a cloud may deliver a
message before its filter is in place (Azure: a new subscription's `$Default` rule)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from collections.abc import Mapping


def matches(filter_: Mapping[str, str | list[str]], attributes: Mapping[str, str]) -> bool:
    """All attributes must match; a list matches any of its values."""
    return all(attributes.get(key) in (value if isinstance(value, list) else [value])
               for key, value in filter_.items())
