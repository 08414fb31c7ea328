"""The typer application that every command module registers on."""
import typer

app = typer.Typer(help="Bingan 病案 — 无纸化病案归档系统", no_args_is_help=True, add_completion=False)


@app.callback()
def _private_data() -> None:
    # Before any command (serve, worker, beat, migrate, ingest …) creates a file: patient data at
    # rest outside the encrypted blobs is the service account's only (docs/security.md).
    from bingan.config import get_settings
    from bingan.ingest.staging import secure_staging
    from bingan.storage.private_files import protect_home, restrict_new_files

    restrict_new_files()
    settings = get_settings()
    protect_home(settings)
    secure_staging(settings)
