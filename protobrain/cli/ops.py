"""`ops`: the operators protobrain compiles, the types each takes, and their fast tiers."""

from __future__ import annotations

import json

import click
from rich.table import Table

from protobrain.cli.options import console
from protobrain.compiler.ops import REGISTRY
from protobrain.compiler.ops.base import LITERT_GOLDEN, TYPES
from protobrain.compiler.ops.tiers.select import FAST_OPERATORS

TYPE_COLUMNS = ("int8", "int16", "int32", "int64", "float32", "bool", "uint8", "uint32", "uint64")


def operator_matrix() -> list[dict]:
    """One row per operator: its types, fast tiers, and golden where it is not TFLite Micro."""
    return [{"operator": name, "types": list(TYPES.get(name, ())), "fast": list(FAST_OPERATORS.get(name, ())),
             "golden": f"LiteRT reference ({LITERT_GOLDEN[name]})" if name in LITERT_GOLDEN else "TFLite Micro"}
            for name in sorted(REGISTRY)]


def markdown_matrix() -> str:
    """The matrix as a Markdown table (README.md carries it; a test keeps the two equal)."""
    lines = ["| operator | " + " | ".join(TYPE_COLUMNS) + " | fast tiers | golden |",
             "|---|" + "---|" * len(TYPE_COLUMNS) + "---|---|"]
    for r in operator_matrix():
        marks = ["✓" if t in r["types"] else "" for t in TYPE_COLUMNS]
        lines.append(f"| {r['operator']} | " + " | ".join(marks) + f" | {', '.join(r['fast']) or '-'} | {r['golden']} |")
    return "\n".join(lines)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--markdown", is_flag=True, help="Print the Markdown table README.md carries.")
def ops(as_json, markdown):
    """List the supported operators x types, fast kernel tiers and the golden each is checked against."""
    rows = operator_matrix()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if markdown:
        click.echo(markdown_matrix())
        return
    table = Table(title=f"{len(rows)} operators (custom ops as CUSTOM:<name>)", title_justify="left")
    table.add_column("operator")
    for t in TYPE_COLUMNS:
        table.add_column(t, justify="center")
    table.add_column("fast tiers")
    table.add_column("golden")
    for r in rows:
        table.add_row(r["operator"], *["✓" if t in r["types"] else "" for t in TYPE_COLUMNS],
                      ", ".join(r["fast"]) or "-", r["golden"])
    console.print(table)


COMMANDS = [ops]
