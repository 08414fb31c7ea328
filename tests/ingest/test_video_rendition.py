"""A collected video gets a browser-playable rendition stored beside the original: users who may view
but not download play that, never the original (issue 9: M6)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import formats_gen

from bingan.formats import video
from bingan.ingest.items import Report, enqueue, manual_source
from bingan.ingest.pipeline import run_until_settled
from bingan.storage.models import CollectedItem, Version


def test_a_collected_video_gets_a_playable_mp4_rendition(pipe, record, tmp_path):
    clip = formats_gen.tiny_video(tmp_path / "clip.avi")  # mpeg4 in AVI: no browser plays it
    staged = pipe.staging / "t-video"
    staged.write_bytes(clip.read_bytes())
    with pipe.tx() as session:
        item, _ = enqueue(session, manual_source(session), Report(
            source_document_id="OR-1", record_number=record, stay=1, document_type_code="C0201",
            revision="1", filename="手术录像.avi"), staged_path=str(staged))
        item_id = item.id
    assert run_until_settled(pipe, [item_id], timeout=120)[item_id] == "indexed"
    with pipe.tx() as session:
        version = session.get(Version, session.get(CollectedItem, item_id).version_id)
        original, playable = version.sha256, version.playable_sha256
    assert playable and playable != original
    rendition = tmp_path / "playable.mp4"
    with pipe.blobs.open(playable) as stream:
        rendition.write_bytes(stream.read())
    assert video.is_browser_playable(video.probe(rendition))
