"""A SOAP document service with a real WSDL (spyne over wsgiref), in a thread."""
from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from spyne import Application, ComplexModel, Integer, Iterable, ServiceBase, Unicode, rpc
from spyne.error import ResourceNotFoundError
from spyne.model.binary import ByteArray
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication


class DocumentInfo(ComplexModel):
    __namespace__ = "urn:bingan:peer"
    id = Unicode
    revision = Unicode
    record_number = Unicode
    stay = Integer
    type = Unicode
    title = Unicode
    filename = Unicode


class ChangeList(ComplexModel):
    __namespace__ = "urn:bingan:peer"
    cursor = Unicode
    documents = Iterable(DocumentInfo)


def make_wsgi(state) -> WsgiApplication:
    class DocumentService(ServiceBase):
        @rpc(Unicode, _returns=ChangeList)
        def ListChangedDocuments(ctx, since):  # names and arguments are the WSDL's
            after = int(since or 0)
            docs = sorted((d for d in state.documents.values() if d["seq"] > after), key=lambda d: d["seq"])
            fields = ("id", "revision", "record_number", "stay", "type", "title", "filename")
            return ChangeList(cursor=str(max([after, *[d["seq"] for d in docs]])),
                              documents=[DocumentInfo(**{k: d.get(k) for k in fields}) for d in docs])

        @rpc(Unicode, Unicode, _returns=ByteArray)
        def GetDocument(ctx, id, revision):
            data = state.contents.get((id, revision))
            if data is None:
                raise ResourceNotFoundError(id)
            return [data]

    app = Application([DocumentService], tns="urn:bingan:peer", in_protocol=Soap11(validator="lxml"),
                      out_protocol=Soap11())
    return WsgiApplication(app)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_: object) -> None:
        pass


class SoapPeer:
    def __init__(self, state) -> None:
        self.httpd = make_server("127.0.0.1", 0, make_wsgi(state), handler_class=_Quiet)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_port}/?wsdl"

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.thread.join(5)
