"""Registry of carrier adapters, keyed by CarrierAccount.kind."""

import importlib

from shipping.carriers.base import Carrier, NotSupported

BUILT_IN = ("selfprint", "sendcloud", "karrio")
_REGISTRY: dict[str, type[Carrier]] = {}
_loaded = False


def register(cls):
    _REGISTRY[cls.kind] = cls
    return cls


def _load() -> None:
    """Import the built-in adapters once (each registers itself), whatever else registered first."""
    global _loaded
    if _loaded:
        return
    for name in BUILT_IN:
        try:
            importlib.import_module(f"shipping.carriers.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"shipping.carriers.{name}":
                raise
    _loaded = True


def get_carrier(account) -> Carrier:
    _load()
    try:
        return _REGISTRY[account.kind](account)
    except KeyError:
        raise NotSupported(f"no carrier adapter for {account.kind!r}") from None
