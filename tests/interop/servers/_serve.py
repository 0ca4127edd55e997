"""Shared by the interop servers: the command line (--port, --dir), an access log and uvicorn.

The access log is the server's own record of what it answered: one JSON line per request
(`method`, `path`, `status`) plus `issued`, the secrets it handed out in that response
(Set-Cookie values, token fields of JSON bodies, hidden csrfmiddlewaretoken inputs), so the
test can check that loadtest never writes or prints any of them. Test-only instrumentation:
it does not change what the mounted library answers.
"""

import argparse
import json
import os
import re
import socket
import sys

import uvicorn

TOKEN_KEYS = ("token", "access", "refresh", "key", "session")
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
BODY_KEEP = 256 * 1024


def args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--dir", required=True, help="directory for the database and access.log")
    return p.parse_args()


def _json_secrets(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and any(t in k.lower() for t in TOKEN_KEYS) and len(v) >= 8:
                out.append(v)
            else:
                _json_secrets(v, out)
    elif isinstance(value, list):
        for v in value:
            _json_secrets(v, out)


class AccessLog:
    """ASGI middleware: one JSON line per HTTP request in `path`."""

    def __init__(self, app, path):
        self.app = app
        self.file = open(path, "a", buffering=1, encoding="utf-8")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        entry = {"method": scope["method"], "path": scope["path"], "status": None, "issued": []}
        body = bytearray()
        content_type = b""

        async def logging_send(message):
            nonlocal content_type
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"set-cookie":
                        cookie = value.split(b";", 1)[0].split(b"=", 1)
                        if len(cookie) == 2 and cookie[1].strip(b'"'):
                            entry["issued"].append(cookie[1].strip(b'"').decode("latin-1"))
                    elif name.lower() == b"content-type":
                        content_type = value
            elif message["type"] == "http.response.body":
                if len(body) < BODY_KEEP:
                    body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    self._finish(entry, bytes(body), content_type)
            await send(message)

        await self.app(scope, receive, logging_send)

    def _finish(self, entry, body, content_type):
        if b"json" in content_type:
            try:
                _json_secrets(json.loads(body), entry["issued"])
            except ValueError:
                pass
        elif b"html" in content_type:
            entry["issued"].extend(m.decode("latin-1") for m in CSRF_INPUT.findall(body))
        self.file.write(json.dumps(entry) + "\n")


def serve(app, port, directory):
    """Runs `app` on 127.0.0.1:port until killed, logging every request to DIR/access.log.

    Prints `listening on http://127.0.0.1:PORT` once the socket accepts connections."""
    logged = AccessLog(app, os.path.join(directory, "access.log"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(logged, access_log=False, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
    sys.exit(0)
