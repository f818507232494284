"""`herald events schema`: Herald's published contract (JSON Schemas + AsyncAPI 3.0, docs/contract/),
from the models; `herald events topics`: the topic catalogue's tables, as the README and
docs/architecture.md carry them."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from herald.errors import UserError
from shared.contracts import (
    CONTRACT_DIR,
    contract_schemas,
    internal_schema_file,
    render_files,
    schema_file,
    write,
)
from shared.topic_docs import contract_table, service_table, topic_table

app = typer.Typer(help="Herald's event contract.", no_args_is_help=True)
console = Console()


@app.command()
def schema(
    write_files: bool = typer.Option(
        False, "--write", help="Regenerate the committed files in docs/contract/."
    ),
    event_type: str = typer.Option(None, "--type", help="Print the JSON Schema of one event type."),
) -> None:
    """Print or regenerate the published contract. Refuses to write a change that would break a
    consumer of a published event type version (docs/contract/README.md): publish a new version."""
    if event_type:
        schemas = contract_schemas()
        name = next(
            (n for n in (schema_file(event_type), internal_schema_file(event_type)) if n in schemas), None
        )
        if name is None:
            raise UserError(
                f"unknown event type {event_type!r} (the contract has the public topics' types and"
                " the messages other teams send)"
            )
        print(json.dumps(schemas[name], indent=2))
        return
    if not write_files:
        for name in sorted(render_files()):
            console.print(name)
        return
    problems = write()
    if problems:
        raise UserError("these changes would break consumers, nothing written: " + "; ".join(problems))
    console.print(f"wrote the contract to {CONTRACT_DIR}")


@app.command()
def topics(
    by_service: bool = typer.Option(False, "--by-service", help="What each service reads and writes."),
    public: bool = typer.Option(False, "--public", help="The public topics, as other teams read them."),
) -> None:
    """Print every topic with its key, who writes and reads it and what it holds (Markdown)."""
    if by_service and public:
        raise UserError("give --by-service or --public, not both")
    print(service_table() if by_service else contract_table() if public else topic_table(), end="")
