"""The committed AsyncAPI document, parsed by AsyncAPI's own parser (`@asyncapi/parser`, which
`make test` installs into tools/asyncapi/ from its lock file): no error and no warning."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from shared.contracts import ASYNCAPI_FILE, CONTRACT_DIR

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "tools" / "asyncapi" / "check.mjs"
PARSER = REPO / "tools" / "asyncapi" / "node_modules" / "@asyncapi" / "parser"

pytestmark = pytest.mark.integration


def check(path: Path) -> subprocess.CompletedProcess[str]:
    assert PARSER.is_dir(), "AsyncAPI's parser is not installed: run `make tools` (make test does)"
    return subprocess.run(["node", str(CHECK), str(path)], capture_output=True, text=True, timeout=120)


def test_the_committed_document_parses_with_no_error_and_no_warning() -> None:
    result = check(CONTRACT_DIR / ASYNCAPI_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "AsyncAPI 3.0.0 parsed, no error or warning" in result.stdout


def test_the_check_fails_on_a_broken_reference_or_a_field_asyncapi_3_does_not_have(tmp_path: Path) -> None:
    document = yaml.safe_load((CONTRACT_DIR / ASYNCAPI_FILE).read_text())
    channel = document["channels"]["feed-items"]
    channel["messages"]["herald.feed.item.discovered.v1"] = {"$ref": "#/components/messages/nothing"}
    document["channels"]["posts"]["subscribe"] = {"message": {}}  # AsyncAPI 2's way
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(yaml.safe_dump(document, sort_keys=False))
    result = check(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "components/messages/nothing" in result.stdout, result.stdout
    assert "channels.posts" in result.stdout and "subscribe" in result.stdout, result.stdout
