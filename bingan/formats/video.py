"""Video: ffprobe facts, a poster frame, and a browser-playable H.264/AAC MP4 rendition.

Files are handled by path only (ffmpeg streams them), so memory stays constant whatever
the size of the recording.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from bingan.formats.base import FormatError, Metadata

PROBE_TIMEOUT = 30.0
POSTER_TIMEOUT = 60.0
CONVERT_BASE_TIMEOUT = 120.0
CONVERT_SECONDS_PER_SECOND = 4.0  # 2 busy cores encode faster than real time; 4x is headroom

_PLAYABLE_MP4_VIDEO = {"h264"}
_PLAYABLE_MP4_AUDIO = {"aac", "mp3"}
_PLAYABLE_WEBM_VIDEO = {"vp8", "vp9", "av1"}
_PLAYABLE_WEBM_AUDIO = {"opus", "vorbis"}
_PLAYABLE_PIXELS = {"yuv420p", "yuvj420p"}


@dataclass
class Probe:
    format_name: str
    duration: float | None
    video_codec: str = ""
    audio_codec: str = ""
    width: int = 0
    height: int = 0
    pixel_format: str = ""
    raw: dict = field(default_factory=dict)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise FormatError(f"无法处理视频：服务器未安装 {name}", f"{name} not on PATH")
    return found


def _run(arguments: list[str], timeout: float, what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(arguments, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FormatError(f"视频{what}超时", f"{arguments[0]} > {timeout:.0f}s") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace")[-800:]
        raise FormatError(f"视频文件已损坏或格式不受支持（{what}失败）", detail)
    return done


def probe(path: str | os.PathLike) -> Probe:
    done = _run([_tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format",
                 "-show_streams", str(path)], PROBE_TIMEOUT, "读取")
    try:
        raw = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise FormatError("视频文件无法读取", "ffprobe output is not JSON") from exc
    return _probe_from(raw)


def _probe_from(raw: dict) -> Probe:
    streams = raw.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise FormatError("文件中没有可播放的视频或音频", "no streams")
    container = raw.get("format") or {}
    return Probe(
        format_name=str(container.get("format_name", "")),
        duration=_float(container.get("duration")) or _float((video or audio or {}).get("duration")),
        video_codec=str((video or {}).get("codec_name", "")),
        audio_codec=str((audio or {}).get("codec_name", "")),
        width=int((video or {}).get("width") or 0),
        height=int((video or {}).get("height") or 0),
        pixel_format=str((video or {}).get("pix_fmt", "")),
        raw=raw,
    )


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def metadata(path: str | os.PathLike, media_type: str = "video/*") -> Metadata:
    facts = probe(path)
    meta = Metadata(media_type=media_type, pages=1)
    tags = (facts.raw.get("format") or {}).get("tags") or {}
    meta.producer = str(tags.get("encoder", ""))
    meta.title = str(tags.get("title", ""))
    meta.extra.update(
        duration=f"{facts.duration:.3f}" if facts.duration is not None else "",
        video_codec=facts.video_codec, audio_codec=facts.audio_codec,
        width=str(facts.width), height=str(facts.height), container=facts.format_name,
        browser_playable=str(is_browser_playable(facts)).lower(),
    )
    return meta


def is_browser_playable(facts: Probe) -> bool:
    """Plays in every current browser without conversion: H.264 (4:2:0) + AAC/MP3 in MP4,
    or VP8/VP9/AV1 + Opus/Vorbis in WebM."""
    formats = set(facts.format_name.split(","))
    if "mp4" in formats:
        video_ok, audio_ok = _PLAYABLE_MP4_VIDEO, _PLAYABLE_MP4_AUDIO
    elif "webm" in formats:
        video_ok, audio_ok = _PLAYABLE_WEBM_VIDEO, _PLAYABLE_WEBM_AUDIO
    else:
        return False
    if facts.video_codec and (facts.video_codec not in video_ok
                              or (facts.pixel_format and facts.pixel_format not in _PLAYABLE_PIXELS
                                  and facts.video_codec == "h264")):
        return False
    return not facts.audio_codec or facts.audio_codec in audio_ok


def poster_frame(path: str | os.PathLike, at: float | None = None) -> Image.Image:
    """A still from early in the video (1 s in, or 10% for short clips) for previews."""
    if at is None:
        duration = probe(path).duration or 0.0
        at = min(1.0, duration / 10)
    done = _run([_tool("ffmpeg"), "-v", "error", "-ss", f"{at:.3f}", "-i", str(path), "-frames:v", "1",
                 "-f", "image2pipe", "-vcodec", "png", "-"], POSTER_TIMEOUT, "截图")
    try:
        image = Image.open(io.BytesIO(done.stdout))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise FormatError("视频中没有可显示的画面", "ffmpeg produced no frame") from exc
    return image.convert("RGB")


def make_playable(src_path: str | os.PathLike, dst_path: str | os.PathLike) -> Path:
    """Write an H.264/AAC MP4 with the index at the front (plays while downloading)."""
    facts = probe(src_path)
    destination = Path(dst_path)
    partial = destination.with_name(destination.name + ".part.mp4")
    timeout = CONVERT_BASE_TIMEOUT + CONVERT_SECONDS_PER_SECOND * (facts.duration or 600.0)
    arguments = [_tool("ffmpeg"), "-v", "error", "-y", "-i", str(src_path), "-map", "0:v:0?", "-map", "0:a:0?",
                 *_video_options(facts), *_audio_options(facts),
                 "-movflags", "+faststart", "-threads", "2", str(partial)]
    try:
        _run(arguments, timeout, "转码")
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


def _video_options(facts: Probe) -> list[str]:
    if not facts.video_codec:
        return ["-vn"]
    if facts.video_codec == "h264" and facts.pixel_format in _PLAYABLE_PIXELS:
        return ["-c:v", "copy"]  # already H.264: re-encoding would only lose quality
    # Even dimensions: yuv420p cannot encode odd widths or heights.
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
            "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"]


def _audio_options(facts: Probe) -> list[str]:
    if not facts.audio_codec:
        return ["-an"]
    if facts.audio_codec == "aac":
        return ["-c:a", "copy"]
    return ["-c:a", "aac", "-b:a", "128k"]
