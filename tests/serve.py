"Test scaffolding: serve a folder over HTTP on 127.0.0.1 (for tests of fastai's `untar_data` without a network)."
import functools, threading
from contextlib import contextmanager
from http.server import ThreadingHTTPServer, SimpleHTTPRequestHandler

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

@contextmanager
def serve_folder(path):
    "Serve `path` on 127.0.0.1 from a background thread; yield its base URL, shut it down on exit"
    srv = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_QuietHandler, directory=str(path)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try: yield f'http://127.0.0.1:{srv.server_address[1]}'
    finally:
        srv.shutdown()
        srv.server_close()
