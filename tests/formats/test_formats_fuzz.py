"""Fuzz: any byte mutation of a small valid PDF gives a result or FormatError, promptly."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bingan.formats.base import FormatError
from bingan.formats.document import open_document

pytestmark = pytest.mark.timeout(240)

_SMALL = None


def _small_pdf() -> bytes:
    global _SMALL
    if _SMALL is None:
        import formats_gen

        _SMALL = formats_gen.text_pdf([["入院记录", "主诉：胸闷"]])
    return _SMALL


mutations = st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
                     min_size=1, max_size=30)


def _exercise(data: bytes) -> None:
    try:
        document = open_document(data)
        count = document.page_count()
        document.page_texts(ocr=False)
        document.metadata()
        if count:
            document.render(1, dpi=20)
    except FormatError as error:
        assert error.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations)
def test_byte_mutations_give_result_or_format_error(changes):
    data = bytearray(_small_pdf())
    for position, value in changes:
        data[position % len(data)] = value
    _exercise(bytes(data))


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0))
def test_truncations_give_result_or_format_error(keep):
    _exercise(_small_pdf()[: int(len(_small_pdf()) * keep)])
