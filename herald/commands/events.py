"""`herald events schema`: Herald's published contract (JSON Schemas + AsyncAPI), from the models;
`herald events topics`: the topic catalogue's tables, as the README and docs/architecture.md carry them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from herald.errors import UserError
from shared.contracts import CONTRACTS_DIR, breaking_changes, committed_files, event_schemas, render_files
from shared.topic_docs import service_table, topic_table

app = typer.Typer(help="Herald's event contract.", no_args_is_help=True)
console = Console()


@app.command()
def schema(
    write: bool = typer.Option(False, "--write", help=f"Regenerate the committed files in {CONTRACTS_DIR}."),
    allow_breaking: bool = typer.Option(
        False, "--allow-breaking", help="Write even if consumers would break."
    ),
    event_type: str = typer.Option(None, "--type", help="Print the JSON Schema of one event type."),
) -> None:
    """Print or regenerate the event schemas. Refuses to write a change that would break consumers."""
    if event_type:
        schemas = event_schemas()
        name = f"{event_type}.schema.json"
        if name not in schemas:
            raise UserError(f"unknown event type {event_type!r}")
        print(json.dumps(schemas[name], indent=2))
        return
    files = render_files()
    if not write:
        for name in sorted(files):
            console.print(name)
        return
    old = committed_files()
    problems = [
        problem
        for name, text in old.items()
        if name.endswith(".schema.json")
        for problem in (
            [f"{name}: removed"]
            if name not in files
            else breaking_changes(json.loads(text), json.loads(files[name]))
        )
    ]
    if problems and not allow_breaking:
        raise UserError(
            "these changes would break existing consumers (publish a new versioned type instead, "
            f"or pass --allow-breaking): {'; '.join(problems)}"
        )
    CONTRACTS_DIR.mkdir(exist_ok=True)
    for stale in set(old) - set(files):
        (CONTRACTS_DIR / stale).unlink()
    for name, text in files.items():
        Path(CONTRACTS_DIR / name).write_text(text)
    console.print(f"wrote {len(files)} files to {CONTRACTS_DIR}")


@app.command()
def topics(
    by_service: bool = typer.Option(False, "--by-service", help="What each service reads and writes."),
) -> None:
    """Print every topic with its key, who writes and reads it and what it holds (Markdown)."""
    print(service_table() if by_service else topic_table(), end="")
