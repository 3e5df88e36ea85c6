"""OAuth 2 access tokens for connectors that hold a refresh token (eBay, Amazon LWA, Etsy).

The channel's credentials carry everything: `client_id`, `client_secret`, `refresh_token`,
`access_token`, `expires_at` (unix seconds) and `token_url` (the provider's token endpoint;
the sandbox's when testing). A token that expires within REFRESH_MARGIN is refreshed before
the call, and the new credentials are handed to `store_credentials`, which the channel wiring
saves, so the next sync (or another worker) starts with the fresh token. A call refused with a
token we believed valid gets one refresh and one retry. A refresh the provider refuses
(revoked consent, wrong client secret) is an auth error: the channel needs reconnecting."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import TypeVar

from channels.connectors.base import Connector, ConnectorError

REFRESH_MARGIN = 300  # seconds: refresh a token that would expire during a long sync
T = TypeVar("T")


def expiring(credentials: dict, *, now: float | None = None, margin: int = REFRESH_MARGIN) -> bool:
    """Whether the access token is missing or expires within `margin` seconds. A token without
    a known expiry is used as it is (a refusal then triggers the refresh)."""
    if not credentials.get("access_token"):
        return True
    expires_at = credentials.get("expires_at")
    if expires_at in (None, ""):
        return False
    now = time.time() if now is None else now
    try:
        return float(expires_at) <= now + margin
    except (TypeError, ValueError):
        return True


def refresh_credentials(
    http,
    credentials: dict,
    *,
    token_url: str,
    client_auth: str = "body",
    extra_form: dict | None = None,
    now: float | None = None,
) -> dict:
    """Run the refresh_token grant and return the credentials with the new access token, its
    expiry, and the refresh token if the provider rotated it.

    `client_auth` is "basic" (client id and secret in an HTTP Basic header, as eBay wants),
    "body" (in the form, as Login with Amazon wants) or "none" (a public PKCE client such as
    Etsy's, which has no secret to send and names itself in `extra_form`)."""
    refresh_token = credentials.get("refresh_token", "")
    if not refresh_token:
        raise ConnectorError(
            "no refresh token is stored for this channel: reconnect it", retryable=False, auth=True
        )
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **(extra_form or {})}
    headers = {"Accept": "application/json"}
    client_id, client_secret = credentials.get("client_id", ""), credentials.get("client_secret", "")
    if client_auth == "basic":
        pair = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    elif client_auth == "body":
        form.update(client_id=client_id, client_secret=client_secret)
    started = time.time() if now is None else now
    try:
        # A form body: requests sends application/x-www-form-urlencoded.
        data = http.json("POST", token_url, data=form, headers=headers)
    except ConnectorError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
            # invalid_grant (revoked or expired refresh token), invalid_client, …: only a new
            # consent from the seller fixes these.
            raise ConnectorError(
                f"the token endpoint refused the refresh token; reconnect the channel ({exc})",
                status=exc.status,
                retryable=False,
                auth=True,
            ) from exc
        raise
    if not isinstance(data, dict) or not data.get("access_token"):
        raise ConnectorError(f"POST {token_url}: the token endpoint answered without an access token")
    fresh = dict(credentials)
    fresh["access_token"] = data["access_token"]
    try:
        fresh["expires_at"] = int(started + int(data.get("expires_in") or 3600))
    except (TypeError, ValueError):
        fresh["expires_at"] = int(started + 3600)
    if data.get("refresh_token"):
        fresh["refresh_token"] = data["refresh_token"]
    return fresh


class OAuthConnector(Connector):
    """A connector whose API calls carry a short-lived access token minted from a refresh token.

    Subclasses set `default_token_url` and `client_auth`, and say how the token travels
    (`auth_headers`). Every API call goes through `api_json` / `api_request`."""

    default_token_url: str = ""
    client_auth: str = "body"
    #: statuses with which the API refuses an expired or revoked access token
    token_refused_statuses: tuple[int, ...] = (401,)

    def token_form(self) -> dict:
        """Extra fields for the refresh request (eBay: the scopes)."""
        return {}

    def auth_headers(self, access_token: str) -> dict:
        raise NotImplementedError

    def refresh_access_token(self) -> None:
        """Mint a new access token, unless another worker already did: a sync and a tracking push
        of the same channel run side by side, and a provider that rotates refresh tokens (Etsy)
        refuses the one the other worker just spent. So the stored credentials are read first, and
        read again when the refresh is refused, before the channel is called disconnected."""
        if self._adopt_stored():
            return
        try:
            fresh = self._refresh(self.credentials)
        except ConnectorError as exc:
            if not exc.auth or not self._adopt_stored(any_refresh_token=True):
                raise
            if not expiring(self.credentials):
                return
            fresh = self._refresh(self.credentials)
        self.store_credentials(fresh)

    def _refresh(self, credentials: dict) -> dict:
        token_url = credentials.get("token_url") or self.default_token_url
        return refresh_credentials(
            self.http,
            credentials,
            token_url=token_url,
            client_auth=self.client_auth,
            extra_form=self.token_form(),
        )

    def _adopt_stored(self, *, any_refresh_token: bool = False) -> bool:
        """Take the stored credentials when another worker has changed them since we read ours:
        a different access token that is still good, or (after a refusal) a different refresh token."""
        stored = self.stored_credentials()
        if not stored:
            return False
        newer_access = stored.get("access_token") != self.credentials.get("access_token") and not expiring(
            stored
        )
        newer_refresh = any_refresh_token and stored.get("refresh_token") not in (
            "",
            None,
            self.credentials.get("refresh_token"),
        )
        if newer_access or newer_refresh:
            self.credentials = stored
            return True
        return False

    def _authorized(self, send: Callable[[dict], T]) -> T:
        refreshed = False
        if self.credentials.get("refresh_token") and expiring(self.credentials):
            self.refresh_access_token()
            refreshed = True
        try:
            return send(self.auth_headers(self.credentials.get("access_token", "")))
        except ConnectorError as exc:
            if (
                refreshed
                or exc.status not in self.token_refused_statuses
                or not self.credentials.get("refresh_token")
            ):
                raise
        # The API refused a token we thought was valid (revoked early, clock skew): one fresh try.
        self.refresh_access_token()
        return send(self.auth_headers(self.credentials["access_token"]))

    def api_json(self, method: str, url: str, *, headers: dict | None = None, **kwargs):
        return self._authorized(
            lambda auth: self.http.json(method, url, headers={**(headers or {}), **auth}, **kwargs)
        )

    def api_request(self, method: str, url: str, *, headers: dict | None = None, **kwargs):
        return self._authorized(
            lambda auth: self.http.request(method, url, headers={**(headers or {}), **auth}, **kwargs)
        )
