"""Where a secret is, in a config file: `{env: NAME}` or `{file: PATH}`, never the value itself.

Shared by every service that reads credentials from YAML (the publisher's accounts, the notifier's
targets), so a pasted-in secret is refused the same way everywhere and never echoed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretRef(BaseModel):
    """Where a secret is: `{env: NAME}` or `{file: PATH}` — never the secret itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(default=None, description="Name of the environment variable holding it.")
    file: Path | None = Field(default=None, description="File holding it (trailing newline dropped).")

    @model_validator(mode="before")
    @classmethod
    def _not_inline(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            # Never echo the value: it may be a secret pasted in by mistake.
            raise ValueError("must be {env: VARIABLE_NAME} or {file: /path}, not an inline value")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        if self.env is not None and not _ENV_NAME.match(self.env):
            raise ValueError("env must be an environment variable name (letters, digits, _)")
        return self

    def resolve(self, environ: Mapping[str, str]) -> SecretStr:
        if self.env is not None:
            value = environ.get(self.env, "")
            if not value.strip():
                raise ValueError(f"environment variable {self.env} is not set")
            return SecretStr(value.strip())
        assert self.file is not None
        try:
            value = self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {self.file}: {exc.strerror or exc}") from None
        if not value:
            raise ValueError(f"{self.file} is empty")
        return SecretStr(value)
