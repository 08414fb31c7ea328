"""``bingan-agent``: run (watch and upload; --once for one round), key (what to register on
Bingan's device page), status (the queue), retry (refused and unmatched reports again)."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bingan_agent import __version__
from bingan_agent.config import Config, ConfigError, filing_for, load
from bingan_agent.folder import Watcher
from bingan_agent.queue import STATE_NAMES, Queue
from bingan_agent.signing import registration_text, signer
from bingan_agent.upload import Uploader

log = logging.getLogger("bingan_agent")


def run(config: Config, once: bool = False) -> int:
    """Watch and upload until stopped; a report interrupted by a power cut is sent again first."""
    queue = Queue(config.queue_path)
    watcher, uploader = Watcher(config, queue), Uploader(config, queue, signer(config))
    log.info("单机采集程序 %s 启动：监视 %s，上传到 %s", __version__, config.watch, config.server)
    try:
        if once:  # a file is complete when two looks, stable_seconds apart, see it unchanged
            watcher.scan()
            time.sleep(config.stable_seconds)
        while True:
            _round(watcher, uploader)
            if once:
                return 0
            time.sleep(config.poll_seconds)
    finally:
        queue.close()


def _round(watcher: Watcher, uploader: Uploader) -> None:
    """One scan and upload; whatever goes wrong is logged and the next round tries again."""
    try:
        watcher.scan()
        uploader.send_due(time.time())
    except Exception:
        log.exception("本轮采集出错，下一轮重试")


def key(config: Config) -> int:
    print(registration_text(config), end="")
    return 0


def status(config: Config) -> int:
    queue = Queue(config.queue_path)
    try:
        for state, count in sorted(queue.counts().items()):
            print(f"{STATE_NAMES.get(state, state)}：{count}")
        for path, state, reason in queue.problems():
            print(f"  [{STATE_NAMES.get(state, state)}] {path} {reason}")
    finally:
        queue.close()
    return 0


def retry(config: Config) -> int:
    """Refused and unmatched reports queued again, their file names mapped with the current rules."""
    queue = Queue(config.queue_path)
    try:
        again = 0
        for row_id, path in queue.stuck():
            filing = filing_for(config, Path(path).name)
            if filing is not None:
                queue.requeue(row_id, asdict(filing))
                again += 1
        print(f"重新排队 {again} 份报告")
    finally:
        queue.close()
    return 0


COMMANDS = {"run": run, "key": key, "status": status, "retry": retry}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bingan-agent", description="病案系统单机采集程序")
    parser.add_argument("command", choices=sorted(COMMANDS), help="run 采集上传；key 显示要登记的公钥或证书；"
                        "status 查看队列；retry 重新排队被拒绝或未匹配的报告")
    parser.add_argument("-c", "--config", type=Path, default=Path("bingan-agent.toml"), help="配置文件（TOML）")
    parser.add_argument("--once", action="store_true", help="只扫描、上传一轮（供计划任务调用）")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        config = load(args.config)
        command = COMMANDS[args.command]
        code = command(config, once=args.once) if command is run else command(config)
    except ConfigError as error:
        print(f"配置错误：{error}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)
