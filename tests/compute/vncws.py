"""vncws: a console client as noVNC is one: a WebSocket (Debian's
python3-websockets, subprotocol "binary") carrying RFB 3.8, with VNC
authentication (DES of the server's challenge, python3-cryptography).

rfb_handshake(url, password) completes the handshake up to ServerInit and
returns (width, height, desktop name); a refused WebSocket handshake
raises websockets.exceptions.InvalidStatusCode (.status_code)."""
import asyncio
import struct


def _vnc_des_key(password):
    key = password.encode()[:8].ljust(8, b"\0")
    # VNC's quirk: each key byte bit-reversed.
    return bytes(int("{:08b}".format(b)[::-1], 2) for b in key)


def _vnc_response(password, challenge):
    import warnings
    from cryptography.hazmat.primitives.ciphers import (Cipher, algorithms,
                                                        modes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # TripleDES is deprecated
        enc = Cipher(algorithms.TripleDES(_vnc_des_key(password)),
                     modes.ECB()).encryptor()
    return enc.update(challenge) + enc.finalize()


class _Reader:
    def __init__(self, ws):
        self.ws = ws
        self.buf = b""

    async def read(self, n):
        while len(self.buf) < n:
            frame = await asyncio.wait_for(self.ws.recv(), 30)
            assert isinstance(frame, bytes), "text frame from the proxy"
            self.buf += frame
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


async def _handshake(url, password, ssl=None):
    import websockets
    async with websockets.connect(url, subprotocols=["binary"], ssl=ssl,
                                  open_timeout=10) as ws:
        assert ws.subprotocol == "binary", ws.subprotocol
        r = _Reader(ws)
        version = await r.read(12)
        assert version.startswith(b"RFB 003."), version
        await ws.send(b"RFB 003.008\n")
        n = (await r.read(1))[0]
        types = await r.read(n)
        assert 2 in types, "no VNC authentication offered: %r" % types
        await ws.send(bytes([2]))
        challenge = await r.read(16)
        await ws.send(_vnc_response(password, challenge))
        result, = struct.unpack(">I", await r.read(4))
        assert result == 0, "VNC authentication failed (%d)" % result
        await ws.send(bytes([1]))            # ClientInit: shared
        width, height = struct.unpack(">HH", await r.read(4))
        await r.read(16)                     # pixel format
        length, = struct.unpack(">I", await r.read(4))
        name = (await r.read(length)).decode()
        return width, height, name


def rfb_handshake(url, password, ssl=None):
    """'ssl': an ssl.SSLContext for wss:// URLs."""
    return asyncio.run(_handshake(url, password, ssl))


async def _refused(url, ssl=None):
    import websockets
    try:
        async with websockets.connect(url, subprotocols=["binary"], ssl=ssl,
                                      open_timeout=10):
            return None
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code


def refused_status(url, ssl=None):
    """The HTTP status of a refused handshake (None if it was accepted)."""
    return asyncio.run(_refused(url, ssl))
