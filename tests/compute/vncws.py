"""vncws: a console client as noVNC is one: a WebSocket (Debian's
python3-websockets, subprotocol "binary") carrying RFB 3.8, with VNC
authentication (DES of the server's challenge, python3-cryptography).

rfb_handshake(url, password) completes the handshake up to ServerInit and
returns (width, height, desktop name); a refused WebSocket handshake
raises websockets.exceptions.InvalidStatusCode (.status_code).

spice_link(url, password) is what spice-html5 does first over its
WebSocket: the SPICE main channel's link (protocol 2.2) with the ticket
RSA-OAEP-encrypted to the server's key; it returns the link result
(0: SPICE_LINK_ERR_OK)."""
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


SPICE_MAGIC = b"REDQ"


async def _spice_link(url, password):
    import websockets
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    async with websockets.connect(url, subprotocols=["binary"],
                                  open_timeout=10) as ws:
        r = _Reader(ws)
        # SpiceLinkMess: connection 0, the main channel (1), id 0, no caps.
        mess = struct.pack("<IBBIII", 0, 1, 0, 0, 0, 18)
        await ws.send(SPICE_MAGIC + struct.pack("<III", 2, 2, len(mess))
                      + mess)
        magic, major, minor, size = struct.unpack("<4sIII", await r.read(16))
        assert (magic, major) == (SPICE_MAGIC, 2), (magic, major, minor)
        reply = await r.read(size)
        error, = struct.unpack("<I", reply[:4])
        assert error == 0, "SPICE link refused (%d)" % error
        key = serialization.load_der_public_key(reply[4:4 + 162])
        ticket = key.encrypt(password.encode() + b"\0", padding.OAEP(
            mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(),
            label=None))
        await ws.send(ticket)
        result, = struct.unpack("<I", await r.read(4))
        return result


def spice_link(url, password):
    return asyncio.run(_spice_link(url, password))


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
