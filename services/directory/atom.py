"""`GET /changes.atom`: an Atom 1.0 feed (RFC 4287) of the public directory's changes.

Built from what the directory knows now, the snapshot every worker follows, so any worker serves
the same feed: one entry per account anyone may see, at the time it was last changed (added,
re-handled, verified, made public or active), newest first. What may no longer be shown (an
account made private, archived, a person who left or was erased) is not an entry: it leaves the
feed, as it leaves `GET /staff`, and nothing of an erased person remains. Entry ids are UUIDs made
from the account's id and change time, so a change is a new entry and the account's id is not
shown.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from services.directory.view import shown_accounts
from shared.events import StaffMember
from shared.events.directory import PLATFORM_NAMES, SocialAccount

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml"
#: The feed keeps the latest changes only; the full directory is `GET /staff`.
MAX_ENTRIES = 100
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:herald:directory:changes")


def changes_feed(members: Iterable[StaffMember], *, self_url: str, now: datetime) -> bytes:
    """The feed as UTF-8 XML; `self_url` is where it was asked for, `now` its time when empty."""
    changes = sorted(
        ((account.changed_at, member, account) for member in members for account in shown_accounts(member)),
        key=lambda change: (change[0], change[2].account_id),
        reverse=True,
    )[:MAX_ENTRIES]
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", f"urn:uuid:{_IDS}")
    _text(feed, "title", "Council staff social media accounts: changes")
    _text(feed, "updated", _time(changes[0][0] if changes else now))
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=self_url, type=CONTENT_TYPE)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "Herald staff directory")
    for changed_at, member, account in changes:
        feed.append(_entry(member, account, changed_at))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _entry(member: StaffMember, account: SocialAccount, changed_at: datetime) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _text(entry, "id", f"urn:uuid:{uuid.uuid5(_IDS, f'{account.account_id}@{changed_at.isoformat()}')}")
    platform = PLATFORM_NAMES[account.platform]
    _text(entry, "title", f"{member.name} on {platform}: {account.handle}")
    _text(entry, "updated", _time(changed_at))
    _text(entry, "published", _time(account.added_at))
    ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=account.url)
    role = ", ".join(part for part in (member.role, member.department) if part)
    checked = "verified" if account.verified else "not yet verified"
    summary = f"{member.name}{f' ({role})' if role else ''}: {platform} account {account.handle}, {checked}."
    _text(entry, "summary", summary)
    return entry


def _text(parent: ET.Element, tag: str, text: str) -> None:
    """A text element; characters XML 1.0 cannot hold (control characters, lone surrogates) are
    dropped, since a name typed into an HR system may carry them."""
    ET.SubElement(parent, f"{{{ATOM}}}{tag}").text = _NOT_XML.sub("", text)


def _time(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
