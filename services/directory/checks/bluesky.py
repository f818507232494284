"""A Bluesky handle checked both ways, through httpx: `com.atproto.identity.resolveHandle` gives
its DID, and the DID document (did:plc from the PLC directory, did:web from the domain's
`/.well-known/did.json`) must name the handle back in `alsoKnownAs`. A did:web domain comes from
data, so it is vetted like a feed's URL (`shared.netsafety`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote

import httpx

from services.directory.checks.rules import CheckResult, bluesky_identity, inconclusive
from shared.netsafety import UnsafeURL, check_url

RESOLVE_PATH = "/xrpc/com.atproto.identity.resolveHandle"


class BlueskyChecker:
    platform = "bluesky"

    def __init__(
        self, *, base_url: str, plc_url: str, allow_private_networks: bool, timeout: float = 30.0
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._plc_url = plc_url.rstrip("/")
        self._allow_private = allow_private_networks
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def check(self, handle: str, now: datetime) -> CheckResult:
        try:
            response = await self._http.get(self._base_url + RESOLVE_PATH, params={"handle": handle})
            if response.status_code == 429:
                return inconclusive("rate limited by Bluesky", retry_at=_reset(response))
            if response.status_code == 400 and _error(response) in ("InvalidRequest", "HandleNotFound"):
                return CheckResult("missing", "Bluesky cannot resolve the handle")
            if response.status_code != 200:
                return inconclusive(f"Bluesky answered {response.status_code}")
            did = str(response.json().get("did") or "")
            document = await self._document(did)
        except UnsafeURL as exc:
            return inconclusive(f"DID host refused: {exc.kind}")
        except httpx.HTTPError as exc:
            return inconclusive(f"no answer from Bluesky: {type(exc).__name__}")
        except (ValueError, AttributeError):
            return inconclusive("Bluesky answered with no JSON object")
        return bluesky_identity(handle, did, document)

    async def _document(self, did: str) -> Any:
        """The DID document, or None when there is none to be had (a mismatch, not an error)."""
        if did.startswith("did:plc:"):
            url = f"{self._plc_url}/{did}"
        elif did.startswith("did:web:"):
            url = did_web_url(did)
            await check_url(url, allow_private=self._allow_private)
        else:
            return None
        response = await self._http.get(url, headers={"Accept": "application/did+json, application/json"})
        return response.json() if response.status_code == 200 else None

    async def close(self) -> None:
        await self._http.aclose()


def did_web_url(did: str) -> str:
    """Where a did:web document is (W3C did:web): the domain (a port as %3A), then `:`-separated
    path segments, else `/.well-known`; always `did.json`."""
    domain, *path = did.removeprefix("did:web:").split(":")
    base = "https://" + unquote(domain)
    return f"{base}/{'/'.join(unquote(p) for p in path)}/did.json" if path else f"{base}/.well-known/did.json"


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""


def _reset(response: httpx.Response) -> float | None:
    raw = response.headers.get("ratelimit-reset")
    return float(raw) if raw and raw.isdigit() else None
