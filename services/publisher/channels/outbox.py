"""The dry run: what would be posted, one JSON line per post, nothing leaves the machine.

Used while a channel has no credentials (or an account says `dry_run: true`). File per account:
`<outbox_dir>/<stands_in_for>-<account>.jsonl`, except the walking skeleton's X `corporate`
stand-in, which keeps `<outbox_dir>/x.jsonl` (the README and tests point people there).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from services.publisher.channels.base import (
    WEBHOOK_LIMITS,
    ChannelLimits,
    OutgoingPost,
    PostResult,
    RetryGuard,
    TransientPostError,
    same_link,
)

log = logging.getLogger(__name__)


def outbox_filename(stands_in_for: str, account: str) -> str:
    if (stands_in_for, account) == ("x", "corporate"):
        return "x.jsonl"
    return f"{stands_in_for}-{account}.jsonl"


class OutboxChannel:
    """Appends what would be posted to its file and logs it. Each line: item_id, channel, account,
    text, link, title, image_urls, idempotency_key, at, dry_run."""

    name = "outbox"
    can_find_recent = True
    retry_guard = RetryGuard.OWN_RECORD

    def __init__(
        self,
        outbox_dir: Path,
        *,
        account: str,
        stands_in_for: str = "x",
        limits: ChannelLimits | None = None,
    ) -> None:
        self.account = account
        self.stands_in_for = stands_in_for
        #: The limits of the channel it stands in for.
        self.limits = limits or WEBHOOK_LIMITS
        self.path = outbox_dir / outbox_filename(stands_in_for, account)

    async def post(self, outgoing: OutgoingPost) -> PostResult:
        line = {
            "item_id": outgoing.item_id,
            "channel": self.stands_in_for,
            "account": self.account,
            "text": outgoing.text,
            "link": outgoing.link,
            "title": outgoing.title,
            "image_urls": list(outgoing.image_urls),
            "idempotency_key": outgoing.idempotency_key,
            "at": datetime.now(UTC).isoformat(),
            "dry_run": True,
        }
        try:
            await asyncio.to_thread(self._append, json.dumps(line, ensure_ascii=False))
        except OSError as exc:
            raise TransientPostError(f"cannot write the outbox {self.path}: {exc}", code="outbox_io") from exc
        log.warning("DRY RUN (outbox %s) would post as %s: %s", self.path, self.account, outgoing.text)
        return PostResult(post_id=self._post_id(outgoing), post_url=None, dry_run=True)

    def _post_id(self, post: OutgoingPost) -> str:
        seed = f"{post.item_id}|{self.account}" if post.item_id else post.idempotency_key
        return "outbox-" + hashlib.sha256(seed.encode()).hexdigest()[:16]

    async def find_recent(self, link: str) -> PostResult | None:
        """The last line of the outbox carrying `link`."""
        try:
            text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TransientPostError(f"cannot read the outbox {self.path}: {exc}", code="outbox_io") from exc
        for raw in reversed(text.splitlines()):
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if same_link(line.get("link"), link):
                post = OutgoingPost(
                    text=line.get("text", ""),
                    idempotency_key=line.get("idempotency_key") or "",
                    item_id=line.get("item_id"),
                )
                return PostResult(post_id=self._post_id(post), post_url=None, dry_run=True)
        return None

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    async def close(self) -> None:
        return None
