"""Sending queued reports through Bingan's push API (``POST /api/v1/ingest``), signed, with
backoff while the network or the server is away. Standard library only (urllib)."""
from __future__ import annotations

import hashlib
import http.client
import json
import logging
import random
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bingan_agent.config import Config
from bingan_agent.queue import Queue, Row
from bingan_agent.signing import signed_text

log = logging.getLogger("bingan_agent")
PUSH_PATH = "/api/v1/ingest"
RETRY_STATUSES = {401, 403, 408, 429}  # a key or registration being fixed, or the server busy


@dataclass(frozen=True)
class Answer:
    """What became of one upload: sent (with Bingan's item), try later, or refused for good."""

    outcome: str  # sent | later | refused
    reason: str = ""
    item_id: int | None = None
    network: bool = False  # the server could not be reached: stop this round


def source_document_id(row: Row) -> str:
    """The idempotency key: the report's SHA-256, the same on every attempt."""
    return row.sha256


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "bingan-agent-" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    quoted = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Uploader:
    def __init__(self, config: Config, queue: Queue, sign: Callable[[bytes], str]) -> None:
        self.config, self.queue, self.sign = config, queue, sign

    def send_due(self, now: float) -> int:
        """Every due report, oldest first, until the server cannot be reached; how many were sent."""
        sent = 0
        for row in self.queue.due(now):
            answer = self._send(row)
            sent += answer.outcome == "sent"
            if answer.network:
                break
        return sent

    def _send(self, row: Row) -> Answer:
        content = self._content(row)
        if content is None:
            return Answer("gone")
        self.queue.sending(row.id)
        answer = self._post(row, content)
        if answer.outcome == "sent":
            self.queue.sent(row.id, answer.item_id)
            log.info("已上传 %s（采集条目 %s）", row.path, answer.item_id)
        elif answer.outcome == "refused":
            self.queue.finish(row.id, "refused", answer.reason)
            log.error("被拒绝 %s：%s", row.path, answer.reason)
        else:
            self.queue.later(row.id, answer.reason, self._backoff(row.attempts))
            log.warning("稍后重试 %s：%s", row.path, answer.reason)
        return answer

    def _content(self, row: Row) -> bytes | None:
        """The bytes that were hashed; a file removed or rewritten since is no longer this report."""
        path = Path(row.path)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            self.queue.finish(row.id, "gone", "文件在上传前已被删除或移走")
            return None
        except OSError as error:  # locked by the device software, a share gone for a moment
            self.queue.later(row.id, f"暂时无法读取文件：{error}", self._backoff(row.attempts))
            return None
        if hashlib.sha256(content).hexdigest() != row.sha256:
            self.queue.finish(row.id, "gone", "文件在上传前已被修改（修改后的内容作为新报告排队）")
            return None
        return content

    def _backoff(self, attempts: int) -> float:
        delay = min(self.config.max_backoff_seconds, 2.0 ** attempts)
        return delay * random.uniform(0.8, 1.2)

    def _post(self, row: Row, content: bytes) -> Answer:
        document_id = source_document_id(row)
        fields = {"record_number": row.record_number, "stay": str(row.stay), "source_document_id": document_id,
                  "document_type": row.category, "title": row.title[:200]}
        body, content_type = multipart(fields, Path(row.path).name, content)
        signature = self.sign(signed_text(row.sha256, document_id, row.record_number, row.stay, row.category))
        request = urllib.request.Request(self.config.server + PUSH_PATH, data=body, method="POST", headers={
            "Content-Type": content_type, "X-Api-Key": self.config.device_key, "X-Device-Signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_seconds) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return _refusal(error)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            return Answer("later", f"无法连接病案系统：{getattr(error, 'reason', error)}", network=True)
        except ValueError:
            return Answer("later", "病案系统的答复无法识别（是否经过了代理？）", network=True)
        return Answer("sent", item_id=answer.get("item_id"))


def _refusal(error: urllib.error.HTTPError) -> Answer:
    try:
        detail = json.loads(error.read() or b"{}").get("detail", "")
    except (ValueError, OSError):
        detail = ""
    said = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    reason = f"病案系统答复 {error.code}：{said}"
    if error.code >= 500 or error.code in RETRY_STATUSES:
        return Answer("later", reason, network=error.code >= 500)
    return Answer("refused", reason)
