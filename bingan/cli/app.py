"""The typer application that every command module registers on."""
import typer

app = typer.Typer(help="Bingan 病案 — 无纸化病案归档系统", no_args_is_help=True, add_completion=False)
