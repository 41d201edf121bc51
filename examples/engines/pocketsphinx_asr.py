#!/usr/bin/env python3
"""An engine-ws v1 speech recognizer (docs/engine-ws.md, section 2) built on PocketSphinx.

PocketSphinx comes from PyPI (the `pocketsphinx` wheel ships its US English model) and the WebSocket side
from `websockets`: `pip install -r requirements.txt`, then

    python3 pocketsphinx_asr.py --port 2700 [--token-env ENGINE_KEY]

and point the server at it (`kind = "engine-ws"`, `asr_url = "ws://127.0.0.1:2700/asr"`). With `jsgf` in
`start` the search is constrained to the grammar (accurate on telephone audio); without it, it dictates
with the model's language model (best effort). Audio at 8 kHz is upsampled to the model's 16 kHz.
"""

import argparse
import array
import asyncio
import json
import logging
import os
import sys

from pocketsphinx import Decoder, Vad
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response

MODEL_RATE = 16000
START_TIMEOUT_S = 10.0
DEFAULT_IDLE_MS = 10000
log = logging.getLogger("pocketsphinx_asr")


class DecoderPool:
    """Decoders take about a second to load: keep the idle ones for the next connection."""

    def __init__(self):
        self.idle = []
        self.lm_search = None  # the name of the dictation search every new decoder starts with

    async def take(self):
        if self.idle:
            return self.idle.pop()
        decoder = await asyncio.to_thread(Decoder, samprate=MODEL_RATE, loglevel="FATAL")
        self.lm_search = decoder.current_search()
        return decoder

    def give_back(self, decoder):
        # Back to dictation; a grammar search of a previous request is dropped.
        try:
            decoder.activate_search(self.lm_search)
            if len(self.idle) < 4:
                self.idle.append(decoder)
        except Exception:  # a decoder in a bad state is simply not reused
            pass


POOL = DecoderPool()


class Refusal(Exception):
    """A request the engine answers with `error` and a close (section 1.5, 1.6)."""

    def __init__(self, kind, message, code):
        super().__init__(message)
        self.kind, self.message, self.code = kind, message, code


def check_start(text):
    try:
        start = json.loads(text)
    except ValueError as e:
        raise Refusal("bad_request", f"start is not JSON: {e}", 1007)
    if not isinstance(start, dict) or start.get("type") != "start":
        raise Refusal("bad_request", "the first message must be start", 1007)
    if start.get("version", 1) != 1:
        raise Refusal("bad_request", f"unsupported version {start['version']}: this engine speaks 1", 1007)
    if start.get("encoding", "LINEAR16") != "LINEAR16":
        raise Refusal("bad_request", f"unsupported encoding {start['encoding']!r}: this engine takes LINEAR16", 1007)
    rate = start.get("sampleRateHz", 8000)
    if rate not in (8000, 16000):
        raise Refusal("bad_request", f"unsupported sampleRateHz {rate!r}: 8000 or 16000", 1007)
    language = str(start.get("language", "en-US")).lower()
    if not language.startswith("en"):
        raise Refusal("bad_request", f"language-unsupported: this engine speaks en-US, not {language}", 1007)
    return start


def upsample(pcm, previous):
    """8 kHz to 16 kHz by linear interpolation; `previous` is the last sample of the frame before."""
    samples = array.array("h")
    samples.frombytes(pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    out = array.array("h")
    for s in samples:
        out.append((previous + s) // 2)
        out.append(s)
        previous = s
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes(), previous


class Recognition:
    """One request: the decoder, the detector and what has been heard."""

    def __init__(self, start, decoder):
        self.start = start
        self.decoder = decoder
        self.rate = start.get("sampleRateHz", 8000)
        self.vad = Vad(Vad.LOOSE, MODEL_RATE, 0.03)
        self.pending = b""
        self.previous = 0
        self.received = 0  # samples at the client's rate
        self.speech_start = None
        self.speech_end = None
        self.quiet_frames = 0
        jsgf = start.get("jsgf")
        if jsgf:
            try:
                decoder.add_jsgf_string("grammar", jsgf)
            except ValueError as e:
                raise Refusal("bad_request", f"the jsgf grammar cannot be used: {e}", 1007)
            decoder.activate_search("grammar")
        decoder.start_utt()

    def feed(self, pcm):
        """Decodes a frame; returns the speech events it caused."""
        self.received += len(pcm) // 2
        if self.rate == 8000:
            pcm, self.previous = upsample(pcm, self.previous)
        self.decoder.process_raw(pcm, False, False)
        events = []
        self.pending += pcm
        step = self.vad.frame_bytes
        while len(self.pending) >= step:
            frame, self.pending = self.pending[:step], self.pending[step:]
            offset_ms = self.received * 1000 // self.rate
            if self.vad.is_speech(frame):
                self.quiet_frames = 0
                if self.speech_start is None:
                    self.speech_start = offset_ms
                    events.append({"type": "speech_start", "offsetMs": offset_ms})
            elif self.speech_start is not None and self.speech_end is None:
                self.quiet_frames += 1
                if self.quiet_frames * 30 >= 500:
                    self.speech_end = offset_ms
                    events.append({"type": "speech_end", "offsetMs": offset_ms})
        return events

    def interim(self):
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def final(self):
        self.decoder.end_utt()
        limit = max(1, int(self.start.get("maxAlternatives", 1)))
        alternatives, seen = [], set()
        hyp = self.decoder.hyp()
        if hyp is not None and hyp.hypstr.strip():
            confidence = min(1.0, max(0.0, float(hyp.prob)))
            alternatives.append({"transcript": hyp.hypstr.strip(), "confidence": round(confidence, 3)})
            seen.add(hyp.hypstr.strip())
            for n in self.decoder.nbest():
                if len(alternatives) >= limit:
                    break
                text = n.hypstr.strip()
                if text and text not in seen:
                    seen.add(text)
                    alternatives.append({"transcript": text, "confidence": round(confidence / (len(alternatives) + 1), 3)})
        return {"type": "final", "alternatives": alternatives[:limit]}


async def refuse(ws, kind, message, code):
    await ws.send(json.dumps({"type": "error", "kind": kind, "message": message}))
    await ws.close(code, message[:100])


async def recognize(ws):
    try:
        first = await asyncio.wait_for(ws.recv(), START_TIMEOUT_S)
    except asyncio.TimeoutError:
        return await refuse(ws, "timeout", "no start within 10 s", 1011)
    if isinstance(first, bytes):
        return await refuse(ws, "bad_request", "audio before start", 1007)
    try:
        start = check_start(first)
    except Refusal as r:
        return await refuse(ws, r.kind, r.message, r.code)
    await ws.send(json.dumps({"type": "started", "version": 1}))
    decoder = await POOL.take()
    try:
        await converse(ws, start, decoder)
    finally:
        POOL.give_back(decoder)


async def converse(ws, start, decoder):
    try:
        recognition = await asyncio.to_thread(Recognition, start, decoder)
    except Refusal as r:
        return await refuse(ws, r.kind, r.message, r.code)
    idle_ms = int(start.get("timeouts", {}).get("idleMs", DEFAULT_IDLE_MS))
    interim = bool(start.get("interimResults", False))
    frames_since_interim = 0
    while True:
        try:
            message = await asyncio.wait_for(ws.recv(), idle_ms / 1000)
        except asyncio.TimeoutError:
            decoder.end_utt()
            return await refuse(ws, "timeout", f"no audio for {idle_ms} ms", 1011)
        if isinstance(message, bytes):
            if len(message) % 2:
                decoder.end_utt()
                return await refuse(ws, "bad_request", "odd-length audio frame", 1007)
            for event in await asyncio.to_thread(recognition.feed, message):
                await ws.send(json.dumps(event))
            frames_since_interim += 1
            if interim and recognition.speech_start is not None and frames_since_interim >= 25:
                frames_since_interim = 0
                text = recognition.interim()
                if text:
                    await ws.send(json.dumps({"type": "interim", "transcript": text}))
            continue
        try:
            control = json.loads(message)
        except ValueError:
            control = {}
        kind = control.get("type") if isinstance(control, dict) else None
        if kind == "stop":
            result = await asyncio.to_thread(recognition.final)
            await ws.send(json.dumps(result))
            return await ws.close(1000)
        if kind == "cancel":
            decoder.end_utt()
            return await ws.close(1000)
        if kind == "start":
            decoder.end_utt()
            return await refuse(ws, "bad_request", "a second start", 1007)
        # Unknown messages are ignored (section 1.1).


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
        await recognize(ws)
    except ConnectionClosed:
        pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2700, help="0 picks a free port")
    parser.add_argument("--token-env", help="environment variable with the credential clients must send")
    args = parser.parse_args()
    token = os.environ[args.token_env] if args.token_env else None
    logging.basicConfig(level=logging.WARNING)
    # Load one decoder before listening, so the first request does not wait for the model.
    POOL.give_back(await POOL.take())
    async with serve(handler, args.host, args.port, process_request=authenticator(token), max_size=1 << 20) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening ws://{args.host}:{port}/asr", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
