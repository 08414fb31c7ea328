"""CA-service validation benchmark (issue 18 item 5): the cost per signed document of the online
check (联机验证) against the local verification of its signature, in the same run.

One signed report (a PDF of PAGES pages with one PAdES signature by a certificate of the test CA,
its chain attached) is, per repeat, in turn:

* verified locally as collection does it (pyHanko: digest, signature value, chain, later
  revisions — ``formats.signatures.verify_pdf``): the baseline;
* checked online as collection does it (``records.ca_validation.service.check_file``: the signing
  certificates read in the warm guarded pool, then one OCSP request to the real responder on
  loopback — tests/peers/ocsp.py —, its signature, nonce and freshness checked), and its parts:
  the certificate reading alone, the OCSP round trip alone, the CA validation API round trip;
* with ``--latency MS``, the responder answers MS later (a CA's responder across the internet).

    .venv/bin/python bench/ca_validation.py [--pages 20] [--repeat 30] [--latency 0]

Medians; the paths alternate within each repeat so they share the machine's load. Not a test.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the peers
sys.path.insert(0, str(ROOT / "tests" / "ingest"))  # ingest_support.pdf

PDF = "application/pdf"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.0, help="ms the responder waits before answering")
    args = parser.parse_args()

    from ingest_support import pdf
    from peers.ca_validation_api import CaValidationApiPeer
    from peers.ocsp import OcspPeer

    from bingan.config import Settings
    from bingan.formats import guard
    from bingan.formats.pades import sign_pdf
    from bingan.formats.signatures import verify_pdf
    from bingan.records.ca_validation import ocsp, service, vendor_api

    lines = ["超声所见：肝脏大小形态正常，包膜光整，实质回声均匀。", "超声提示：肝胆胰脾未见明显异常。"] * 12
    with OcspPeer() as responder, CaValidationApiPeer("测试CA") as api:
        responder.state.delay = api.state.delay = args.latency / 1000
        key, cert = responder.issue("李医生")
        data = sign_pdf(pdf([lines] * args.pages), key, [cert, responder.ca_der], reason="报告签发",
                        location="超声科", name="李医生")
        settings = Settings(ca_validation="ocsp", ca_validation_timeout=10)
        paths = {
            "local verification (pyHanko)": lambda: verify_pdf(data, []),
            "online check, whole (check_file)": lambda: service.check_file(settings, data, PDF, 1),
            "  certificates read (guarded pool)": lambda: service.certificates_of(data, PDF),
            "  OCSP round trip + checks": lambda: ocsp.ask(cert, responder.ca_der, responder.url, timeout=10),
            "CA validation API round trip": lambda: vendor_api.ask(cert, responder.ca_der, api.url,
                                                                   token=api.state.token, timeout=10),
        }
        assert service.check_file(settings, data, PDF, 1)[0].answer.status == "good"  # warm: pool, imports
        for path in paths.values():
            path()
        times: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.repeat):
            for name, path in paths.items():
                started = time.perf_counter()
                path()
                times[name].append((time.perf_counter() - started) * 1000)
        guard.close_shared_pool()

    base = statistics.median(times["local verification (pyHanko)"])
    print(f"signed report: {args.pages} pages, {len(data) // 1024} KiB, one PAdES signature (ECDSA P-256); "
          f"responder latency {args.latency:g} ms; {args.repeat} repeats, medians")
    for name, values in times.items():
        median = statistics.median(values)
        p95 = sorted(values)[max(0, int(len(values) * 0.95) - 1)]
        print(f"{name:38s} {median:8.1f} ms  (p95 {p95:7.1f} ms)  {median / base:5.2f}× local")


if __name__ == "__main__":
    main()
