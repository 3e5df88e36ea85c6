"""Normal forms used for matching: what a customer types against what a channel sent."""

import re

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


def order_number(value: str) -> str:
    """'#1042', ' 1042 ', '1042' -> '1042'; '113-1234567-1234567' -> '11312345671234567'."""
    return _NON_ALNUM.sub("", value or "").upper()


def postal_code(value: str) -> str:
    """'ls1 4ab' -> 'LS14AB'."""
    return _NON_ALNUM.sub("", value or "").upper()


def email(value: str) -> str:
    return (value or "").strip().lower()
