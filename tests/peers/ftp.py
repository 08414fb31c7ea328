"""A real FTP server (pyftpdlib) on a temp directory, in a thread."""
from __future__ import annotations

import threading
from pathlib import Path

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


class FtpPeer:
    def __init__(self, root: Path, user: str = "emr", password: str = "s3cret") -> None:
        authorizer = DummyAuthorizer()
        authorizer.add_user(user, password, str(root), perm="elr")
        handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "passive_ports": None})
        self.server = FTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        host, port = self.server.address
        return f"ftp://{host}:{port}/"

    def __exit__(self, *_: object) -> None:
        self.server.close_all()
        self.thread.join(5)
