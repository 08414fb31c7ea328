"""Damaged and hostile OFD files: a Chinese FormatError every time, never a hang or a crash."""
from __future__ import annotations

import io
import random
import re
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import ofd_gen as gen
import ofd_sign_gen as sign

from bingan.formats import ofd
from bingan.formats.base import FormatError

pytestmark = pytest.mark.timeout(120)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
VALID = gen.rich_ofd()


def _reject(data: bytes, fn=ofd.page_texts) -> FormatError:
    with pytest.raises(FormatError) as err:
        fn(data)
    assert CHINESE.search(err.value.message), err.value.message
    return err.value


def _render_first(data: bytes) -> None:
    ofd.render_page(data, 1, dpi=20)


def _read_all(data: bytes, render: bool = False) -> None:
    """Every reading entry point: a result or a FormatError, nothing else."""
    fns = [ofd.page_count, ofd.page_texts, ofd.metadata, ofd.verify_signatures]
    for fn in fns + ([_render_first] if render else []):
        try:
            fn(data)
        except FormatError as exc:
            assert CHINESE.search(exc.message), exc.message


def test_not_a_zip() -> None:
    _reject(b"%PDF-1.7 not an ofd")
    _reject(b"")


def test_truncated_zip() -> None:
    for cut in (10, len(VALID) // 3, len(VALID) - 30):
        _reject(VALID[:cut])


def test_missing_ofd_xml() -> None:
    err = _reject(gen.with_part(VALID, "OFD.xml", None))
    assert "OFD.xml" in err.message


def test_missing_document_xml() -> None:
    _reject(gen.with_part(VALID, "Doc_0/Document.xml", None))


def test_billion_laughs() -> None:
    err = _reject(gen.with_part(VALID, "OFD.xml", gen.BILLION_LAUGHS))
    assert err.message == "OFD 文件包含不安全的 XML 实体"


def test_external_entity() -> None:
    err = _reject(gen.with_part(VALID, "OFD.xml", gen.EXTERNAL_ENTITY))
    assert err.message == "OFD 文件包含不安全的 XML 实体"


def test_entity_in_page_content() -> None:
    page = gen.BILLION_LAUGHS.replace(b"OFD", b"Page")
    err = _reject(gen.with_part(VALID, "Doc_0/Pages/Page_0/Content.xml", page))
    assert "实体" in err.message


def test_zip_bomb() -> None:
    err = _reject(gen.zip_bomb())
    assert "压缩炸弹" in err.message


def test_path_traversal_entry() -> None:
    assert "路径" in _reject(gen.traversal_entry()).message


def test_hundred_thousand_entries() -> None:
    assert "条目过多" in _reject(gen.many_entries()).message


def test_huge_page_count_declared() -> None:
    assert "页数过多" in _reject(gen.huge_page_count(), ofd.page_count).message


def test_malformed_xml() -> None:
    _reject(gen.with_part(VALID, "Doc_0/Document.xml", b"<Document><Pages>"))


def test_deep_nesting_does_not_crash() -> None:
    deep = "<ofd:PageBlock>" * 5000 + "</ofd:PageBlock>" * 5000
    b = gen.OfdBuilder()
    b.pages.append(gen.PageSpec(raw=deep))
    _read_all(b.build())


def test_bit_flips_in_the_zip() -> None:
    rng = random.Random(7)
    for _ in range(60):
        data = bytearray(VALID)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data))
            data[pos] ^= 1 << rng.randrange(8)
        _read_all(bytes(data), render=True)


def test_garbage_image_and_font_do_not_break_text() -> None:
    data = gen.with_part(VALID, "Doc_0/Res/image_50.png", b"\x89PNG garbage")
    assert "病案号 2024000123" in ofd.page_texts(data)[0].text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_ofd_bytes(data: st.DataObject) -> None:
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    _read_all(bytes(raw))


CONTENT = zipfile.ZipFile(io.BytesIO(VALID)).read("Doc_0/Pages/Page_0/Content.xml")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_page_content_xml(data: st.DataObject) -> None:
    raw = bytearray(CONTENT)
    for _ in range(data.draw(st.integers(1, 5))):
        op = data.draw(st.sampled_from(["set", "delete", "insert"]))
        pos = data.draw(st.integers(0, len(raw) - 1))
        if op == "set":
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "delete":
            del raw[pos:pos + data.draw(st.integers(1, 20))]
        else:
            raw[pos:pos] = data.draw(st.sampled_from(
                [b"<", b">", b'"', b"&", b"-1e308 ", b"g 99999999 1 ", b"A 0 0 0 0 0 ", b"\xff\xfe",
                 b"nan ", b' CTM="1e300 0 0 1e300 0 0"', b' Size="0"', b' Size="1e9"',
                 b' CTM="0 0 0 0 0 0"', b"B 1 2 3 "]))
        if not raw:
            raw = bytearray(b"<")
    _read_all(gen.with_part(VALID, "Doc_0/Pages/Page_0/Content.xml", bytes(raw)), render=True)


SIGNED = sign.signed_ofd(picture=("ofd", gen.seal_ofd()))
SIGNED_VALUE = zipfile.ZipFile(io.BytesIO(SIGNED)).read("Doc_0/Signs/Sign_0/SignedValue.dat")


def _to_sign_range(value: bytes) -> tuple[int, int]:
    from bingan.formats.ofd import ses

    tbs = ses.SesSignatureV4.load(value)["toSign"].dump()
    start = value.index(tbs)
    return start, start + len(tbs)


TO_SIGN = _to_sign_range(SIGNED_VALUE)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_signed_value(data: st.DataObject) -> None:
    """Any change to the signed SES data (TBS_Sign) is never valid, and pages still render.

    Bytes outside TBS_Sign (the certificate's own signature, for instance) are not covered by
    the seal signature, so only the signed range is mutated here.
    """
    raw = bytearray(SIGNED_VALUE)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(*TO_SIGN).filter(lambda p: p < TO_SIGN[1]))
        raw[pos] ^= data.draw(st.integers(1, 255))
    assume(bytes(raw) != SIGNED_VALUE)
    damaged = gen.with_part(SIGNED, "Doc_0/Signs/Sign_0/SignedValue.dat", bytes(raw))
    sigs = ofd.verify_signatures(damaged)
    assert len(sigs) == 1 and sigs[0].verdict in ("tampered", "invalid", "unauthorised", "unverifiable")
    ofd.render_page(damaged, 1, dpi=20)


STAMPED = sign.signed_ofd(stamp=sign.stamper(sign.tsa("rsa")))
STAMPED_VALUE = zipfile.ZipFile(io.BytesIO(STAMPED)).read("Doc_0/Signs/Sign_0/SignedValue.dat")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_timestamp_token(data: st.DataObject) -> None:
    """A damaged RFC 3161 token (outside the signed data) always leaves a verdict."""
    from bingan.formats.ofd import ses

    token = ses.parse_signature(STAMPED_VALUE).timestamp or b""
    start = STAMPED_VALUE.index(token)
    raw = bytearray(STAMPED_VALUE)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(start, start + len(token) - 1))] ^= data.draw(st.integers(1, 255))
    damaged = gen.with_part(STAMPED, "Doc_0/Signs/Sign_0/SignedValue.dat", bytes(raw))
    sigs = ofd.verify_signatures(damaged)
    assert len(sigs) == 1 and sigs[0].verdict in ("valid", "tampered", "invalid", "unverifiable")
