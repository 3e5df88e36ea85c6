"""API keys (api.keys) and outgoing webhook endpoints and deliveries (api.webhooks) live here."""
