"""Regenerate the settings table in README.md from bingan.config.Settings (run after adding a setting)."""
from pathlib import Path

from bingan.config import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def table() -> str:
    rows = ["| 变量 / variable | 默认值 / default | 说明 / meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = str(field.default) if field.default not in (None, "") else "(空)"
        rows.append(f"| `BINGAN_{name.upper()}` | `{default}` | {field.description} |")
    return "\n".join(rows)


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
