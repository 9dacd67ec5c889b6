"""A loopback SMTP peer for the outbox fault test: `stall` accepts a connection, greets, notes
the connection in MARKER and then never answers again (a delivery hangs in flight); `sink`
answers like a real server and appends every message's DATA to OUT.

    python3 smtp_peer.py stall PORT MARKER
    python3 smtp_peer.py sink PORT OUT
"""

import socketserver
import sys
import time

MODE, PORT, PATH = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Stall(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 stall.localhost ESMTP\r\n")
        with open(PATH, "a", encoding="utf-8") as marker:
            marker.write("connected\n")
        time.sleep(3600)


class Sink(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 sink.localhost ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.decode(errors="replace").strip().upper()
            if verb.startswith("EHLO") or verb.startswith("HELO"):
                self.reply("250 sink.localhost")
            elif verb == "DATA":
                self.reply("354 go ahead")
                body = []
                while True:
                    data = self.rfile.readline()
                    if not data or data in (b".\r\n", b".\n"):
                        break
                    body.append(data.decode(errors="replace"))
                with open(PATH, "a", encoding="utf-8") as out:
                    out.write("".join(body) + "\n--- end of message ---\n")
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("127.0.0.1", PORT), Stall if MODE == "stall" else Sink).serve_forever()
