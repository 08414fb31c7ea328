"""Video: probe, poster frame, browser-playable rendition."""
from __future__ import annotations

import pytest

from bingan.formats import video
from bingan.formats.base import FormatError
from bingan.formats.document import open_document

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def clip(gen, tmp_path_factory):
    return gen.tiny_video(tmp_path_factory.mktemp("video") / "clip.avi")


def test_probe_reports_duration_codecs_and_size(clip):
    facts = video.probe(clip)
    assert (facts.video_codec, facts.width, facts.height) == ("mpeg4", 160, 120)
    assert 0.9 <= facts.duration <= 1.3


def test_mpeg4_avi_is_not_browser_playable(clip):
    assert not video.is_browser_playable(video.probe(clip))


def test_make_playable_writes_h264_aac_mp4_with_faststart(clip, tmp_path):
    out = video.make_playable(clip, tmp_path / "clip.mp4")
    facts = video.probe(out)
    assert video.is_browser_playable(facts) and (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    head = out.read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head  # index before data


def test_poster_frame_has_video_size(clip):
    assert video.poster_frame(clip).size == (160, 120)


def test_document_interface_on_video_path(clip):
    with open_document(clip) as document:
        assert document.media_type == "video/x-msvideo" and document.page_count() == 1
        assert document.metadata().extra["duration"].startswith("1.")
        assert document.render(1, width=80).size == (80, 60)


def test_video_from_bytes_spills_to_temp_file(clip):
    with open_document(clip.read_bytes()) as document:
        assert document.metadata().extra["video_codec"] == "mpeg4"


def test_truncated_video_is_format_error(clip, tmp_path):
    broken = tmp_path / "broken.avi"
    broken.write_bytes(clip.read_bytes()[:300])
    with pytest.raises(FormatError):
        video.poster_frame(broken)
