"""Fixtures for the formats tests: generated documents (see tests/fixtures/formats_gen.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import formats_gen


@pytest.fixture(scope="session")
def gen():
    return formats_gen


@pytest.fixture(scope="session")
def text_pdf() -> bytes:
    return formats_gen.text_pdf()


@pytest.fixture(scope="session")
def scan_300dpi():
    """A slightly rotated, noisy 300-dpi scan of the first medical page."""
    return formats_gen.scan_image(angle=2.0, noise=0.04)
