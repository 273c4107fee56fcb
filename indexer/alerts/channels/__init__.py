"""Alert channels, one module each; ``indexer.alerts.registry.KINDS`` lists them."""

from indexer.alerts.channels.base import Channel, ChannelSettings, HttpChannel, HttpRequest, LocalChannel, Secret

__all__ = ["Channel", "ChannelSettings", "HttpChannel", "HttpRequest", "LocalChannel", "Secret"]
