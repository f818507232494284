"""A Bluesky PDS on loopback (aiohttp XRPC) for the publisher's Bluesky channel, spoken to by the
real `atproto` SDK over HTTP.

Endpoints: `com.atproto.server.createSession` (handle + app password → HS256 access/refresh JWTs
with `exp`), `com.atproto.server.refreshSession`, `com.atproto.repo.uploadBlob`,
`com.atproto.repo.createRecord` and `com.atproto.repo.listRecords`. Every authenticated call
checks the bearer JWT's signature, expiry and scope. createRecord checks the record as a PDS and
the AppView would: `$type`, `createdAt`, ≤ 300 graphemes, every facet's byte range inside the
UTF-8 text and a link facet's bytes equal to its URI, the external card's shape and its thumb
blob having been uploaded. Answers carry `ratelimit-limit/-remaining/-reset/-policy`.
`script("429", "500", "expired")` makes the next createRecord calls fail that way.

For the directory's checks it is also the AppView and a PLC directory: `add_identity(handle, …)`
makes `com.atproto.identity.resolveHandle` answer a DID (others: 400 "Unable to resolve handle")
and `GET /<did>` serve its DID document, whose `alsoKnownAs` names `at://<handle>` unless told
otherwise; `script_identity("429")` has its own queue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from typing import Any

import regex
from aiohttp import web

from tests.fakes.loopback import LoopbackServer

HANDLE = "libraries.example.gov.uk"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
DID = "did:plc:fakelibraries0000000000"
_SECRET = b"fake-pds-jwt-secret"
_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(payload: dict[str, Any]) -> str:
    header = _b64(json.dumps({"typ": "at+jwt", "alg": "HS256"}).encode())
    body = _b64(json.dumps(payload).encode())
    signature = hmac.new(_SECRET, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def read_jwt(token: str) -> dict[str, Any] | None:
    try:
        header, body, signature = token.split(".")
        expected = hmac.new(_SECRET, f"{header}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(_b64(expected), signature):
            return None
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None


def blob_cid(data: bytes) -> str:
    """CIDv1, raw codec, sha2-256, base32 — what a PDS gives a blob."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def _tid(counter: int) -> str:
    value = (int(time.time() * 1_000_000) << 10) | (counter & 0x3FF)
    out = ""
    for _ in range(13):
        out = _B32[value & 31] + out
        value >>= 5
    return out


class FakeBluesky(LoopbackServer):
    name = "fake-bluesky"

    def __init__(self, *, handle: str = HANDLE, password: str = APP_PASSWORD, token_lifetime: int = 7200):
        super().__init__()
        self.handle = handle
        self.password = password
        self.token_lifetime = token_lifetime
        self.records: list[dict[str, Any]] = []  # {uri, cid, value}
        self.blobs: dict[str, dict[str, Any]] = {}
        self.sessions_created = 0
        self.create_calls = 0
        self.rejections: list[str] = []
        self.rate_limit_remaining = 5000
        self.rate_limit_reset_in = 3
        self._scripted: list[str] = []
        self._counter = itertools.count()
        self.identities: dict[str, str] = {}  # handle → did
        self.did_documents: dict[str, dict[str, Any]] = {}
        self._scripted_identity: list[str] = []

    def script(self, *answers: str) -> None:
        with self.lock:
            self._scripted.extend(answers)

    def add_identity(self, handle: str, *, also_known_as: str | None = None, document: bool = True) -> str:
        did = f"did:plc:{hashlib.sha256(handle.encode()).hexdigest()[:24]}"
        self.identities[handle] = did
        if document:
            self.did_documents[did] = {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": did,
                "alsoKnownAs": [also_known_as or f"at://{handle}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": self.base_url,
                    }
                ],
            }
        return did

    def script_identity(self, *answers: str) -> None:
        with self.lock:
            self._scripted_identity.extend(answers)

    def posts(self) -> list[dict[str, Any]]:
        return [record["value"] for record in self.records]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/xrpc/com.atproto.server.createSession", self._create_session)
        app.router.add_post("/xrpc/com.atproto.server.refreshSession", self._refresh_session)
        app.router.add_post("/xrpc/com.atproto.repo.uploadBlob", self._upload_blob)
        app.router.add_post("/xrpc/com.atproto.repo.createRecord", self._create_record)
        app.router.add_get("/xrpc/com.atproto.repo.listRecords", self._list_records)
        app.router.add_get("/xrpc/com.atproto.identity.resolveHandle", self._resolve_handle)
        app.router.add_get("/{did:did:plc:[a-z0-9]+}", self._did_document)

    # --- helpers ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {
            "ratelimit-limit": "5000",
            "ratelimit-remaining": str(self.rate_limit_remaining),
            "ratelimit-reset": str(int(time.time()) + self.rate_limit_reset_in),
            "ratelimit-policy": "5000;w=3600",
        }

    def _json(self, body: Any, status: int = 200) -> web.Response:
        return web.json_response(body, status=status, headers=self._headers())

    def _error(self, status: int, error: str, message: str) -> web.Response:
        if status == 400:
            self.rejections.append(f"{error}: {message}")
        return self._json({"error": error, "message": message}, status)

    def _tokens(self) -> dict[str, Any]:
        now = int(time.time())
        access = make_jwt(
            {
                "scope": "com.atproto.appPass",
                "sub": DID,
                "iat": now,
                "exp": now + self.token_lifetime,
                "aud": "did:web:fake",
            }
        )
        refresh = make_jwt(
            {
                "scope": "com.atproto.refresh",
                "sub": DID,
                "iat": now,
                "exp": now + 90 * 86400,
                "jti": str(next(self._counter)),
            }
        )
        return {"accessJwt": access, "refreshJwt": refresh, "handle": self.handle, "did": DID, "active": True}

    def _auth(
        self, request: web.Request, scope: tuple[str, ...] = ("com.atproto.appPass", "com.atproto.access")
    ):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return self._error(401, "AuthenticationRequired", "Authentication Required")
        claims = read_jwt(header.removeprefix("Bearer "))
        if claims is None:
            return self._error(400, "InvalidToken", "Token could not be verified")
        if claims.get("exp", 0) < time.time():
            return self._error(400, "ExpiredToken", "Token has expired")
        if claims.get("scope") not in scope:
            return self._error(400, "InvalidToken", "Bad token scope")
        return None

    # --- endpoints --------------------------------------------------------------------------
    async def _create_session(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("identifier") not in (self.handle, DID) or body.get("password") != self.password:
            return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        return self._json(self._tokens())

    async def _refresh_session(self, request: web.Request) -> web.Response:
        problem = self._auth(request, scope=("com.atproto.refresh",))
        return problem or self._json(self._tokens())

    async def _upload_blob(self, request: web.Request) -> web.Response:
        problem = self._auth(request)
        if problem:
            return problem
        data = await request.read()
        mime = request.headers.get("Content-Type", "application/octet-stream")
        cid = blob_cid(data)
        self.blobs[cid] = {"size": len(data), "mimeType": mime}
        return self._json(
            {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}}
        )

    async def _create_record(self, request: web.Request) -> web.Response:
        problem = self._auth(request)
        if problem:
            return problem
        with self.lock:
            self.create_calls += 1
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted == "429":
            self.rate_limit_remaining = 0
            return self._json({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, 429)
        if scripted == "500":
            return self._json({"error": "InternalServerError", "message": "Internal Server Error"}, 500)
        if scripted == "expired":
            return self._error(400, "ExpiredToken", "Token has expired")
        body = await request.json()
        if body.get("repo") not in (DID, self.handle):
            return self._error(400, "InvalidRequest", f"Could not find repo: {body.get('repo')}")
        if body.get("collection") != "app.bsky.feed.post":
            return self._error(400, "InvalidRequest", "unexpected collection")
        record = body.get("record")
        reason = self._check_post(record)
        if reason:
            return self._error(400, "InvalidRequest", reason)
        uri = f"at://{DID}/app.bsky.feed.post/{_tid(next(self._counter))}"
        cid = blob_cid(json.dumps(record, sort_keys=True).encode())
        self.records.append({"uri": uri, "cid": cid, "value": record})
        self.rate_limit_remaining = max(0, self.rate_limit_remaining - 1)
        return self._json({"uri": uri, "cid": cid, "validationStatus": "valid"})

    def _check_post(self, record: Any) -> str | None:
        if not isinstance(record, dict) or record.get("$type") != "app.bsky.feed.post":
            return "Invalid app.bsky.feed.post record: $type"
        text = record.get("text")
        if not isinstance(text, str):
            return "Record/text must be a string"
        if len(regex.findall(r"\X", text)) > 300:
            return "Record/text must not be longer than 300 graphemes"
        if not isinstance(record.get("createdAt"), str):
            return 'Record must have the property "createdAt"'
        encoded = text.encode("utf-8")
        for facet in record.get("facets") or []:
            index = facet.get("index") or {}
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(encoded)):
                return f"Record/facets index out of range: {index}"
            for feature in facet.get("features") or []:
                if feature.get("$type") == "app.bsky.richtext.facet#link":
                    try:
                        covered = encoded[start:end].decode("utf-8")
                    except UnicodeDecodeError:
                        return f"Record/facets byte range {start}-{end} splits a character"
                    if covered != feature.get("uri"):
                        return f"Record/facets link byte range covers {covered!r}, not {feature.get('uri')!r}"
        embed = record.get("embed")
        if embed is not None:
            if embed.get("$type") != "app.bsky.embed.external":
                return f"unexpected embed {embed.get('$type')}"
            external = embed.get("external") or {}
            for field in ("uri", "title", "description"):
                if not isinstance(external.get(field), str):
                    return f'Record/embed/external must have the property "{field}"'
            thumb = external.get("thumb")
            if thumb is not None:
                link = ((thumb.get("ref") or {}).get("$link")) if isinstance(thumb, dict) else None
                if thumb.get("$type") != "blob" or link not in self.blobs:
                    return "Record/embed/external/thumb is not an uploaded blob"
        return None

    async def _resolve_handle(self, request: web.Request) -> web.Response:
        with self.lock:
            scripted = self._scripted_identity.pop(0) if self._scripted_identity else None
        if scripted == "429":
            return self._json({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, 429)
        did = self.identities.get(request.query.get("handle", "").lower())
        if did is None:
            return self._json({"error": "InvalidRequest", "message": "Unable to resolve handle"}, 400)
        return self._json({"did": did})

    async def _did_document(self, request: web.Request) -> web.Response:
        document = self.did_documents.get(request.match_info["did"])
        if document is None:
            return web.json_response({"message": "DID not registered"}, status=404)
        return web.json_response(document)

    async def _list_records(self, request: web.Request) -> web.Response:
        problem = self._auth(request)
        if problem:
            return problem
        if request.query.get("repo") not in (DID, self.handle):
            return self._error(400, "InvalidRequest", "Could not find repo")
        limit = int(request.query.get("limit", "50"))
        newest = list(reversed(self.records))[:limit]
        return self._json({"records": newest})
