"""A checker-shaped stand-in of the MLPerf submission checker's source archive (this machine cannot
reach the real one's host): the same top folder and module path, and a main.py that logs like the
checker (an ERROR per scenario folder without README.md, then Results/NoResults and SUMMARY)."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import tarfile
import threading

COMMIT = "0123456789abcdef0123456789abcdef01234567"

MAIN = '''\
import argparse, logging, os, sys
logging.basicConfig(level=logging.INFO,
                    format="[%(asctime)s %(filename)s:%(lineno)d %(levelname)s] %(message)s")
log = logging.getLogger("main")
p = argparse.ArgumentParser()
p.add_argument("--input", required=True)
p.add_argument("--version", default="v5.1")
p.add_argument("--csv", default="summary.csv")
a = p.parse_args()
bad = 0
for division in sorted(os.listdir(a.input)):
    results = os.path.join(a.input, division)
    for submitter in sorted(os.listdir(results)):
        root = os.path.join(results, submitter, "results")
        for system in sorted(os.listdir(root)):
            for bench in sorted(os.listdir(os.path.join(root, system))):
                for scen in sorted(os.listdir(os.path.join(root, system, bench))):
                    path = os.path.join(root, system, bench, scen)
                    perf = os.path.join(path, "performance", "run_1", "mlperf_log_detail.txt")
                    if os.path.exists(os.path.join(path, "README.md")):
                        log.info("Results %s 1.0", perf)
                    else:
                        log.error("%s is missing README.md", path)
                        log.error("NoResults %s", perf)
                        bad += 1
log.info("version %s", a.version)
if bad:
    log.error("SUMMARY: submission has errors")
    sys.exit(1)
log.info("SUMMARY: submission looks OK")
'''


def archive_bytes(commit: str = COMMIT, main: str = MAIN) -> bytes:
    buffer = io.BytesIO()
    top = f"inference-{commit}"
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in ((f"{top}/tools/submission/submission_checker/__init__.py", ""),
                           (f"{top}/tools/submission/submission_checker/main.py", main),
                           (f"{top}/README.md", "stand-in\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@contextlib.contextmanager
def serve(payload: bytes, path: str):
    """``payload`` on an HTTP server bound to 127.0.0.1 for the with-block, at any GET; yields
    (the URL of ``path``, the payload's sha256, the list of paths requested)."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}", hashlib.sha256(payload).hexdigest(), hits
    finally:
        server.shutdown()
        server.server_close()
