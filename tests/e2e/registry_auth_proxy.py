#!/usr/bin/env python3
"""A registry front that speaks Docker's token authentication, for tests/e2e/registry_pull.sh.

Requests to /v2/ need "Authorization: Bearer <token>", which /token hands out for HTTP basic
credentials; manifests are proxied to a real registry, and blob GETs are redirected to a
"storage" port that refuses any request carrying an Authorization header, as object storage
would, so a client that leaks the registry's token across the redirect fails.

Pushes (HEAD, POST, PUT) are proxied too, but only with a token issued for the scope
"repository:test/app:pull,push": a challenge to a HEAD asks for pull alone, as
docker/distribution's does, so a client must ask for push itself. The upload Locations the
registry answers with come back relative, as some registries send them.

With "flaky" as a sixth argument, the storage port breaks the first download of every blob
half way, closing the connection, to exercise a client's retry and resume. With "stall", it
sends the first half and then nothing more for a long while, for a test to interrupt the client
and resume with another.

usage: registry_auth_proxy.py PORT STORAGE_PORT BACKEND_URL USER:PASS LOG [flaky|stall]
"""
import base64
import http.server
import json
import sys
import threading
import time
import urllib.error
import urllib.request

port, storage_port, backend, creds, log_path = (int(sys.argv[1]), int(sys.argv[2]),
                                                 sys.argv[3], sys.argv[4], sys.argv[5])
TOKEN = "t0ken-for-test"
SCOPE = "repository:test/app:pull"
PUSH_TOKEN = "push-t0ken-for-test"
PUSH_SCOPE = "repository:test/app:pull,push"
# How the storage port treats the first download of a large blob: None, "flaky" or "stall".
first_download = sys.argv[6] if len(sys.argv) > 6 else None
STALL_SECONDS = 300
broken = set()
lock = threading.Lock()


def log(line):
    with lock, open(log_path, "a") as f:
        f.write(line + "\n")


def forward(handler, url, extra_headers, cut=None):
    request = urllib.request.Request(url, headers=extra_headers)
    try:
        answer = urllib.request.urlopen(request)
    except urllib.error.HTTPError as error:
        answer = error
    body = answer.read()
    handler.send_response(answer.status)
    for name in ("Content-Type", "Content-Range", "Docker-Content-Digest"):
        if answer.headers.get(name):
            handler.send_header(name, answer.headers[name])
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if cut:
        handler.wfile.write(body[:len(body) // 2])
        handler.wfile.flush()
        if cut == "stall":
            log("stalled a transfer at %d of %d bytes" % (len(body) // 2, len(body)))
            time.sleep(STALL_SECONDS)
        else:
            log("cut a transfer at %d of %d bytes" % (len(body) // 2, len(body)))
        handler.close_connection = True
        return
    handler.wfile.write(body)


def encoded(scope):
    return scope.replace(":", "%3A").replace("/", "%2F").replace(",", "%2C")


def forward_write(handler):
    length = int(handler.headers.get("Content-Length", 0))
    body = handler.rfile.read(length) if length else None
    headers = {}
    if handler.headers.get("Content-Type"):
        headers["Content-Type"] = handler.headers["Content-Type"]
    request = urllib.request.Request(backend + handler.path, data=body, headers=headers,
                                     method=handler.command)
    try:
        answer = urllib.request.urlopen(request)
    except urllib.error.HTTPError as error:
        answer = error
    data = answer.read()
    handler.send_response(answer.status)
    for name in ("Content-Type", "Docker-Content-Digest", "Docker-Upload-UUID", "Range"):
        if answer.headers.get(name):
            handler.send_header(name, answer.headers[name])
    if answer.headers.get("Location"):
        location = answer.headers["Location"]
        handler.send_header("Location", location[location.find("/v2/"):])
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


class Registry(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/token"):
            expected = "Basic " + base64.b64encode(creds.encode()).decode()
            if self.headers.get("Authorization") != expected:
                log("token refused")
                return self.reply(401, {"details": "bad credentials"})
            if "scope=" + encoded(SCOPE) not in self.path:
                log("token with a wrong scope: " + self.path)
                return self.reply(400, {"details": "wrong scope"})
            if "scope=" + encoded(PUSH_SCOPE) in self.path:
                log("push token issued")
                return self.reply(200, {"access_token": PUSH_TOKEN, "expires_in": 300})
            log("token issued")
            return self.reply(200, {"access_token": TOKEN, "expires_in": 300})
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            challenge = ('Bearer realm="http://127.0.0.1:%d/token",service="test registry",'
                         'scope="%s"' % (port, SCOPE))
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED",
                                                "message": "authentication required"}]},
                              [("WWW-Authenticate", challenge)])
        if "/blobs/" in self.path:
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:%d%s" % (storage_port, self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        forward(self, backend + self.path, {"Accept": self.headers.get("Accept", "")})

    def write_allowed(self, scope, tokens):
        if self.headers.get("Authorization") in ["Bearer " + token for token in tokens]:
            return True
        log("%s %s challenged for %s" % (self.command, self.path, scope))
        challenge = ('Bearer realm="http://127.0.0.1:%d/token",service="test registry",'
                     'scope="%s"' % (port, scope))
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                   [("WWW-Authenticate", challenge)])
        return False

    def do_HEAD(self):
        if self.write_allowed(SCOPE, [TOKEN, PUSH_TOKEN]):
            forward_write(self)

    def do_POST(self):
        if self.write_allowed(PUSH_SCOPE, [PUSH_TOKEN]):
            forward_write(self)

    do_PUT = do_POST


def answer_is_large(path):
    # Only blobs worth resuming: a config of a few hundred bytes cut in half proves nothing.
    request = urllib.request.Request(backend + path, method="HEAD")
    return int(urllib.request.urlopen(request).headers.get("Content-Length", 0)) > 4096


class Storage(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.headers.get("Authorization"):
            log("storage got an Authorization header")
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {}
        if self.headers.get("Range"):
            headers["Range"] = self.headers["Range"]
        with lock:
            first = first_download and self.path not in broken and answer_is_large(self.path)
            cut = first_download if first else None
            broken.add(self.path)
        forward(self, backend + self.path, headers, cut)


servers = [http.server.ThreadingHTTPServer(("127.0.0.1", port), Registry),
           http.server.ThreadingHTTPServer(("127.0.0.1", storage_port), Storage)]
threading.Thread(target=servers[1].serve_forever, daemon=True).start()
servers[0].serve_forever()
