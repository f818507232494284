"""The settings reference (docs/configuration.md), rendered from the settings model itself, so the
documented names, defaults and meanings are the code's. A test fails when the committed file
differs; `python -m shared.settings_docs > docs/configuration.md` writes it again."""

from __future__ import annotations

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from shared.settings import ENV_PREFIX, SECTIONS, HeraldSettings

_SECRET_HINT = "secret: from the environment or the config file, never logged"
_COMPUTED_DEFAULTS = {
    "state_dir": "`$XDG_STATE_HOME/herald` (`~/.local/state/herald`)",
    "cache_dir": "`$XDG_CACHE_HOME/herald` (`~/.cache/herald`)",
}


def _default(name: str, field: FieldInfo) -> str:
    if name in _COMPUTED_DEFAULTS:
        return _COMPUTED_DEFAULTS[name]
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return "empty" if not value else f"`{value}`"
    if field.default is PydanticUndefined or field.default is None:
        return "unset"
    if field.default == "":
        return "empty"
    return f"`{str(field.default).lower() if isinstance(field.default, bool) else field.default}`"


def _meaning(field: FieldInfo) -> str:
    text = (field.description or "").replace("|", "\\|")
    if "SecretStr" in repr(field.annotation):
        text = f"{text} ({_SECRET_HINT})" if text else _SECRET_HINT
    return text


def _rows(fields: dict[str, FieldInfo]) -> list[str]:
    return [
        f"| `{ENV_PREFIX}{name.upper()}` | {_default(name, field)} | {_meaning(field)} |"
        for name, field in fields.items()
    ]


def render() -> str:
    """The whole reference: the top-level settings, then one table per service's section."""
    top = {name: field for name, field in HeraldSettings.model_fields.items() if name not in SECTIONS}
    lines = [
        "# Configuration reference",
        "",
        "<!-- Rendered from shared/settings.py by `python -m shared.settings_docs`; a test checks it. -->",
        "",
        "Every setting is an environment variable, or a line of the `.env`-style file named by",
        "`HERALD_CONFIG_FILE` (the environment wins). Both are read when a service or command starts.",
        "A name in that file that is no setting, a file that is missing and a value that does not fit",
        "are each one error naming the variable. Code reads a service's settings from its section",
        "(`settings.feed_ingest.…`).",
        "",
        "## Every service",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
        *_rows(top),
    ]
    for section, model in SECTIONS.items():
        if not model.model_fields:
            continue
        lines += ["", f"## {section}", "", (model.__doc__ or "").strip(), ""]
        lines += ["| variable | default | meaning |", "|---|---|---|", *_rows(model.model_fields)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
