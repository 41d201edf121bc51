#!/usr/bin/env python3
"""An engine-ws v1 speech synthesizer (docs/engine-ws.md, sections 3 and 4) wrapping espeak-ng.

espeak-ng and sox come from Debian (`apt-get install espeak-ng sox`; sox resamples espeak-ng's 22 050 Hz to
the rate asked for) and the WebSocket side from `websockets` (`pip install -r requirements.txt`). Then

    python3 espeak_tts.py --port 2701 [--http-port 2702] [--token-env ENGINE_KEY]

serves streaming synthesis at ws://127.0.0.1:2701/tts (audio frames, SSML marks in place) and, with
--http-port, one POST per prompt at http://127.0.0.1:2702/tts (the jambonz custom TTS shape).
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response

START_TIMEOUT_S = 10.0
ESPEAK_WPM = 175
MAX_BODY = 1 << 20
SSML_NS = "{http://www.w3.org/2001/10/synthesis}"


class Refusal(Exception):
    """A request answered with `error` `bad_request` (WebSocket) or 400 (HTTP)."""


def segments(request, type_member):
    """The prompt as ("text", words) and ("mark", name) pieces, in order."""
    text = request.get("text")
    if not isinstance(text, str) or not text.strip():
        raise Refusal("the request has no text")
    kind = request.get(type_member, "text")
    if kind == "text":
        return [("text", text)], None
    if kind != "ssml":
        raise Refusal(f"unknown {type_member} {kind!r}: text or ssml")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise Refusal(f"parse-failure: {e}")
    if root.tag not in ("speak", SSML_NS + "speak"):
        raise Refusal("parse-failure: the root element is not <speak>")
    pieces, words = [], []

    def walk(element):
        if element.text:
            words.append(element.text)
        for child in element:
            if child.tag in ("mark", SSML_NS + "mark"):
                pieces.append(("text", " ".join(words)))
                words.clear()
                pieces.append(("mark", child.get("name", "")))
            else:
                walk(child)
            if child.tail:
                words.append(child.tail)

    walk(root)
    pieces.append(("text", " ".join(words)))
    lang = root.get("{http://www.w3.org/XML/1998/namespace}lang")
    return [p for p in pieces if p[0] == "mark" or p[1].strip()], lang


def espeak_args(request, lang):
    """espeak-ng's voice, speed and amplitude for a request (section 3.2)."""
    voice = request.get("voice") or lang or request.get("language") or "en-us"
    voice = str(voice).lower()
    if not re.fullmatch(r"[a-z0-9_+\-]{1,40}", voice):
        raise Refusal(f"language-unsupported: no voice {voice!r}")
    if request.get("gender") == "female" and "+" not in voice:
        voice += "+f3"
    prosody = request.get("prosody") or {}
    speed = int(ESPEAK_WPM * min(4.0, max(0.25, float(prosody.get("rate", 1.0)))))
    amplitude = int(100 * min(2.0, max(0.0, float(prosody.get("volume", 1.0)))))
    return ["-v", voice, "-s", str(speed), "-a", str(amplitude)]


def check_rate(request):
    rate = request.get("sampleRateHz", 16000)
    if not isinstance(rate, int) or not 8000 <= rate <= 48000:
        raise Refusal(f"unsupported sampleRateHz {rate!r}: 8000 to 48000")
    if request.get("encoding", "LINEAR16") != "LINEAR16":
        raise Refusal(f"unsupported encoding {request['encoding']!r}: LINEAR16")
    return rate


def pipeline(args, text, rate):
    """espeak-ng | sox: the shell-free command pair, text passed as an argument (never through a shell)."""
    espeak = ["espeak-ng", "--stdout", *args, "--", text]
    sox = ["sox", "-q", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-e", "signed-integer",
           "-b", "16", "-c", "1", "-L", "-"]
    return espeak, sox


async def synthesize(args, text, rate, on_audio):
    """Streams one piece's PCM to `on_audio` as it is made; raises Refusal on an unknown voice."""
    espeak_cmd, sox_cmd = pipeline(args, text, rate)
    read_fd, write_fd = os.pipe()
    espeak = await asyncio.create_subprocess_exec(*espeak_cmd, stdout=write_fd, stderr=subprocess.PIPE)
    os.close(write_fd)
    sox = await asyncio.create_subprocess_exec(*sox_cmd, stdin=read_fd, stdout=subprocess.PIPE,
                                               stderr=subprocess.DEVNULL)
    os.close(read_fd)
    frame = rate // 50 * 2
    try:
        while True:
            chunk = await sox.stdout.read(frame * 5)
            if not chunk:
                break
            await on_audio(chunk)
    except BaseException:
        # Stopped (or the client left): end both processes now.
        for p in (espeak, sox):
            if p.returncode is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
        raise
    finally:
        err = await espeak.stderr.read()
        await espeak.wait()
        await sox.wait()
    if espeak.returncode != 0:
        raise Refusal(f"language-unsupported: espeak-ng: {err.decode(errors='replace').strip()[:200]}")


async def refuse(ws, message):
    await ws.send(json.dumps({"type": "error", "kind": "bad_request", "message": message}))
    await ws.close(1007, message[:100])


async def speak_ws(ws):
    try:
        first = await asyncio.wait_for(ws.recv(), START_TIMEOUT_S)
    except asyncio.TimeoutError:
        await ws.send(json.dumps({"type": "error", "kind": "timeout", "message": "no start within 10 s"}))
        return await ws.close(1011)
    if isinstance(first, bytes):
        return await refuse(ws, "the first message must be start")
    try:
        request = json.loads(first)
        if not isinstance(request, dict) or request.get("type") != "start":
            raise Refusal("the first message must be start")
        if request.get("version", 1) != 1:
            raise Refusal(f"unsupported version {request['version']}: this engine speaks 1")
        rate = check_rate(request)
        pieces, lang = segments(request, "textType")
        args = espeak_args(request, lang)
    except ValueError as e:
        return await refuse(ws, f"start is not JSON: {e}")
    except Refusal as r:
        return await refuse(ws, str(r))
    await ws.send(json.dumps({"type": "started", "version": 1, "sampleRateHz": rate}))

    async def send_audio(chunk):
        await ws.send(chunk)

    async def produce():
        for kind, value in pieces:
            if kind == "mark":
                await ws.send(json.dumps({"type": "mark", "name": value}))
            else:
                await synthesize(args, value, rate, send_audio)
        await ws.send(json.dumps({"type": "done"}))

    async def watch():
        # Until `stop` (or the client leaves): section 3.2.
        async for message in ws:
            if isinstance(message, str) and '"stop"' in message:
                try:
                    if json.loads(message).get("type") == "stop":
                        return
                except ValueError:
                    pass

    producer, watcher = asyncio.create_task(produce()), asyncio.create_task(watch())
    done, _ = await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
    if watcher in done:
        producer.cancel()
        try:
            await producer
        except (asyncio.CancelledError, Refusal, ConnectionClosed):
            pass
        return await ws.close(1000)
    watcher.cancel()
    try:
        producer.result()
    except Refusal as r:
        return await refuse(ws, str(r))
    await ws.close(1000)


def authenticator(token):
    def process_request(connection, request):
        if token is not None and request.headers.get("Authorization") != f"Bearer {token}":
            body = json.dumps({"kind": "auth", "message": "unknown credential"}).encode()
            headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return Response(401, "Unauthorized", headers, body)
        return None

    return process_request


async def handler(ws):
    try:
        await speak_ws(ws)
    except ConnectionClosed:
        pass


def http_handler(token):
    class Handler(BaseHTTPRequestHandler):
        """POST /tts with the jambonz-shaped JSON body (section 4); answers audio/l16."""

        def log_message(self, *args):
            pass

        def answer(self, status, content_type, body):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def error(self, status, kind, message):
            self.answer(status, "application/json", json.dumps({"kind": kind, "message": message}).encode())

        def do_POST(self):
            if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
                return self.error(401, "auth", "unknown credential")
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self.error(413, "bad_request", f"body of {length} bytes is over {MAX_BODY}")
            try:
                request = json.loads(self.rfile.read(length))
                if not isinstance(request, dict):
                    raise Refusal("the body is not a JSON object")
                rate = check_rate(request)
                pieces, lang = segments(request, "type")
                args = espeak_args(request, lang)
            except ValueError as e:
                return self.error(400, "bad_request", f"body is not JSON: {e}")
            except Refusal as r:
                return self.error(400, "bad_request", str(r))
            text = " ".join(value for kind, value in pieces if kind == "text")
            espeak_cmd, sox_cmd = pipeline(args, text, rate)
            espeak = subprocess.Popen(espeak_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            sox = subprocess.run(sox_cmd, stdin=espeak.stdout, capture_output=True, timeout=60)
            espeak.stdout.close()
            err = espeak.stderr.read()
            if espeak.wait() != 0:
                message = f"language-unsupported: espeak-ng: {err.decode(errors='replace').strip()[:200]}"
                return self.error(400, "bad_request", message)
            if sox.returncode != 0:
                return self.error(500, "internal", "sox failed")
            self.answer(200, f"audio/l16;rate={rate}", sox.stdout)

    return Handler


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2701, help="WebSocket port; 0 picks a free one")
    parser.add_argument("--http-port", type=int, help="also serve HTTP POST on this port; 0 picks a free one")
    parser.add_argument("--token-env", help="environment variable with the credential clients must send")
    args = parser.parse_args()
    token = os.environ[args.token_env] if args.token_env else None
    if args.http_port is not None:
        http = ThreadingHTTPServer((args.host, args.http_port), http_handler(token))
        threading.Thread(target=http.serve_forever, daemon=True).start()
        print(f"listening http://{args.host}:{http.server_address[1]}/tts", flush=True)
    async with serve(handler, args.host, args.port, process_request=authenticator(token), max_size=1 << 20) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening ws://{args.host}:{port}/tts", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
