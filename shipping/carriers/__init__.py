"""Registry of carrier adapters, keyed by CarrierAccount.kind."""

from shipping.carriers.base import Carrier, NotSupported

_REGISTRY: dict[str, type[Carrier]] = {}


def register(cls):
    _REGISTRY[cls.kind] = cls
    return cls


def get_carrier(account) -> Carrier:
    if not _REGISTRY:
        import importlib

        for name in ("selfprint", "sendcloud"):
            try:
                importlib.import_module(f"shipping.carriers.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"shipping.carriers.{name}":
                    raise
    try:
        return _REGISTRY[account.kind](account)
    except KeyError:
        raise NotSupported(f"no carrier adapter for {account.kind!r}") from None
