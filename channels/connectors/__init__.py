"""Registry of marketplace connectors, keyed by Channel.kind."""

from channels.connectors.base import (  # noqa: F401
    Connector,
    ConnectorError,
    NotSupported,
    Page,
    PushResult,
    RemoteAddress,
    RemoteFulfilment,
    RemoteLine,
    RemoteOrder,
    RemoteTracking,
)

_REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    _REGISTRY[cls.kind] = cls
    return cls


def connector_class(kind: str) -> type[Connector]:
    _load()
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise NotSupported(f"no connector for channel kind {kind!r}") from None


def get_connector(channel, **kwargs) -> Connector:
    cls = connector_class(channel.kind)

    def save_credentials(credentials: dict) -> None:
        channel.credentials = credentials
        # update() runs the field's get_prep_value (JSON, encrypted when configured) itself.
        type(channel).objects.filter(pk=channel.pk).update(credentials=credentials)

    def load_credentials() -> dict:
        return type(channel).objects.filter(pk=channel.pk).values_list("credentials", flat=True).first() or {}

    kwargs.setdefault("save_credentials", save_credentials)
    kwargs.setdefault("load_credentials", load_credentials)
    return cls(
        base_url=channel.api_base_url, credentials=channel.credentials, shop_id=channel.shop_id, **kwargs
    )


_loaded = False


def _load():
    # A flag, not "is the registry empty": a test (or a caller) that imports one connector module
    # directly must not stop the others from loading.
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    for module in ("etsy", "shopify", "ebay", "amazon", "ecwid", "manual"):
        try:
            importlib.import_module(f"channels.connectors.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"channels.connectors.{module}":
                raise
