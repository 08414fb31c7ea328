"""Regenerate the settings table in README.md from the settings objects (run after adding a setting)."""
from pathlib import Path

from pydantic_settings import BaseSettings

from bingan.config import Settings
from bingan.formats.options import FormatOptions
from bingan.ingest.options import IngestOptions

# The application's settings, then those kept beside the code that uses them.
SETTINGS: tuple[type[BaseSettings], ...] = (Settings, FormatOptions, IngestOptions)

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def table() -> str:
    rows = ["| 变量 / variable | 默认值 / default | 说明 / meaning |", "|---|---|---|"]
    for model in SETTINGS:
        for name, variable in variables(model).items():
            field = model.model_fields[name]
            default = str(field.default) if field.default not in (None, "") else "(空)"
            rows.append(f"| `{variable}` | `{default}` | {field.description} |")
    return "\n".join(rows)


def variables(model: type[BaseSettings]) -> dict[str, str]:
    """Field name → environment variable."""
    prefix = model.model_config.get("env_prefix", "")
    return {name: f"{prefix}{name}".upper() for name in model.model_fields}


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
