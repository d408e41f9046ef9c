"""Authenticated TCP links between committee members.

Frames are a 4-byte big-endian length and a msgpack body of at most ``MAX_FRAME`` bytes. A connection opens with
an Ed25519 handshake: each side sends its public key and a fresh nonce, then signs the other side's nonce (with
the chain id and both keys), so a peer proves it holds a committee member's key before any message is read.
Each peer has a bounded send queue drained by one writer task; a full queue drops the message and counts it —
the protocol recovers lost messages by its own timeouts and sync, so memory stays bounded under any load. The
lower-indexed member dials (and redials with exponential backoff); the other accepts. A peer that sends an
oversized or undecodable frame, a bad signature or a message it may not send is disconnected and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
from blake3 import blake3

log = logging.getLogger("pysei.p2p")

MAX_FRAME = 8 * 1024 * 1024
"""Largest frame accepted: a full car (Sei: ≤ 2 MB of transactions) or a sync response with headroom."""
SEND_QUEUE = 4096
"""Messages waiting for one peer before new ones are dropped."""
HANDSHAKE_TIMEOUT = 5.0
BACKOFF_MIN, BACKOFF_MAX = 0.1, 5.0


class Peer(Protocol):
    @property
    def index(self) -> int: ...

    @property
    def host(self) -> str: ...

    @property
    def p2p_port(self) -> int: ...


class Directory(Protocol):
    """Who may connect: the committee (its members' addresses, keys and signature check)."""

    @property
    def members(self) -> Sequence[Peer]: ...

    def index_of(self, pubkey: bytes) -> int | None: ...

    def verify(self, signer: int, message: bytes, signature: bytes) -> bool: ...


class Identity(Protocol):
    """This node's key."""

    pubkey: bytes
    index: int

    def sign(self, message: bytes) -> bytes: ...


def auth_message(chain_id: int, nonce: bytes, signer: bytes, verifier: bytes) -> bytes:
    """What a peer signs in the handshake: the other side's fresh nonce, bound to the chain and both keys."""
    return blake3(b"p2p-auth" + msgspec.msgpack.encode((chain_id, nonce, signer, verifier))).digest()


class Hello(msgspec.Struct, frozen=True, array_like=True, tag="hello"):
    chain_id: int
    pubkey: bytes
    nonce: bytes


class Auth(msgspec.Struct, frozen=True, array_like=True, tag="auth"):
    sig: bytes


class ProtocolError(Exception):
    """The peer broke the protocol; it is disconnected and counted."""


@dataclass
class PeerStats:
    connected: bool = False
    sent: int = 0
    received: int = 0
    dropped: int = 0
    """Messages dropped because this peer's send queue was full."""
    connects: int = 0
    misbehaviour: int = 0
    last_error: str | None = None


@dataclass
class _Link:
    writer: asyncio.StreamWriter
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(SEND_QUEUE))
    task: asyncio.Task[None] | None = None


Handler = Callable[[int, Any], None]
"""Called with (peer index, decoded message) for every message from an authenticated peer, and with the strings
"connected" / "disconnected" when its link comes up or goes down."""


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await reader.readexactly(4), "big")
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes exceeds {MAX_FRAME}")
    return await reader.readexactly(size)


class Network:
    def __init__(
        self, committee: Directory, signer: Identity, chain_id: int, handler: Handler, message_type: Any
    ) -> None:
        self.committee = committee
        self.signer = signer
        self.chain_id = chain_id
        self.handler = handler
        self.stats = {m.index: PeerStats() for m in committee.members if m.index != signer.index}
        self.rejected_handshakes = 0
        """Connections refused before authentication (not a member, bad signature, garbage)."""
        self._links: dict[int, _Link] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(message_type)
        self._hs_decoder = msgspec.msgpack.Decoder(Hello | Auth)
        self.blocked: set[int] = set()
        """Test hook (network cut): peers whose traffic is neither sent nor read."""

    # --- lifecycle -----------------------------------------------------------------------------------------
    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._accept, host, port, limit=MAX_FRAME + 4)
        for m in self.committee.members:
            if m.index > self.signer.index:
                self._spawn(self._dial_loop(m.index))
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for link in list(self._links.values()):
            if link.task is not None:
                link.task.cancel()
            link.writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sending -------------------------------------------------------------------------------------------
    def encode(self, msg: Any) -> bytes:
        return _frame(self._encoder.encode(msg))

    def send(self, peer: int, msg: Any, frame: bytes | None = None) -> bool:
        link = self._links.get(peer)
        if link is None or peer in self.blocked:
            return False
        try:
            link.queue.put_nowait(frame if frame is not None else self.encode(msg))
        except asyncio.QueueFull:
            self.stats[peer].dropped += 1
            return False
        return True

    def broadcast(self, msg: Any) -> None:
        frame = self.encode(msg)
        for peer in list(self._links):
            self.send(peer, msg, frame)

    @property
    def connected(self) -> list[int]:
        return sorted(p for p in self._links if p not in self.blocked)

    # --- connections ---------------------------------------------------------------------------------------
    async def _dial_loop(self, peer: int) -> None:
        member = self.committee.members[peer]
        backoff = BACKOFF_MIN
        while True:
            try:
                reader, writer = await asyncio.open_connection(member.host, member.p2p_port, limit=MAX_FRAME + 4)
            except OSError:
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_MIN
            await self._serve(reader, writer, expected=peer)
            await asyncio.sleep(BACKOFF_MIN)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, expected=None)

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        nonce = os.urandom(32)
        writer.write(_frame(self._encoder.encode(Hello(self.chain_id, self.signer.pubkey, nonce))))
        hello = self._hs_decoder.decode(await _read_frame(reader))
        if not isinstance(hello, Hello) or hello.chain_id != self.chain_id:
            raise ProtocolError("handshake: not a hello for this chain")
        peer = self.committee.index_of(hello.pubkey)
        if peer is None or peer == self.signer.index:
            raise ProtocolError("handshake: key of no other committee member")
        theirs = auth_message(self.chain_id, hello.nonce, self.signer.pubkey, hello.pubkey)
        writer.write(_frame(self._encoder.encode(Auth(self.signer.sign(theirs)))))
        auth = self._hs_decoder.decode(await _read_frame(reader))
        mine = auth_message(self.chain_id, nonce, hello.pubkey, self.signer.pubkey)
        if not isinstance(auth, Auth) or not self.committee.verify(peer, mine, auth.sig):
            raise ProtocolError("handshake: bad signature")
        return peer

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, expected: int | None) -> None:
        peer: int | None = None
        link: _Link | None = None
        try:
            try:
                peer = await asyncio.wait_for(self._handshake(reader, writer), HANDSHAKE_TIMEOUT)
            except (ProtocolError, msgspec.DecodeError, msgspec.ValidationError, TimeoutError) as exc:
                self.rejected_handshakes += 1
                log.warning("p2p: refused a connection: %s", exc)
                return
            if expected is not None and peer != expected:
                self.rejected_handshakes += 1
                return
            old = self._links.pop(peer, None)
            if old is not None:  # the peer reconnected (e.g. restarted): the new link replaces the old one
                self._close(old)
            link = self._links[peer] = _Link(writer)
            link.task = asyncio.create_task(self._writer(peer, link))
            stats = self.stats[peer]
            stats.connected = True
            stats.connects += 1
            log.info("p2p: connected to validator %d", peer)
            self.handler(peer, "connected")
            decode = self._decoder.decode
            while True:
                frame = await _read_frame(reader)
                if peer in self.blocked:
                    continue
                stats.received += 1
                try:
                    msg = decode(frame)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise ProtocolError(f"undecodable frame: {exc}") from None
                try:
                    self.handler(peer, msg)
                except Exception as exc:  # a message the checks missed must cost the peer, never the node
                    log.exception("p2p: handling a message from validator %d failed", peer)
                    raise ProtocolError(f"message that broke its handler: {exc!r}") from None
        except ProtocolError as exc:
            if peer is not None:
                self.penalize(peer, str(exc))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            if peer is not None and link is not None and self._links.get(peer) is link:
                del self._links[peer]
                self.stats[peer].connected = False
                log.info("p2p: disconnected from validator %d", peer)
                self.handler(peer, "disconnected")
            if link is not None:
                self._close(link)
            else:
                writer.close()

    def penalize(self, peer: int, reason: str) -> None:
        """Counts a protocol violation and drops the connection (the dialer reconnects after a backoff)."""
        stats = self.stats[peer]
        stats.misbehaviour += 1
        stats.last_error = reason
        log.warning("p2p: validator %d misbehaved (%s); disconnecting", peer, reason)
        link = self._links.pop(peer, None)
        if link is not None:
            stats.connected = False
            self._close(link)

    @staticmethod
    def _close(link: _Link) -> None:
        if link.task is not None:
            link.task.cancel()
        with contextlib.suppress(Exception):
            link.writer.close()

    async def _writer(self, peer: int, link: _Link) -> None:
        stats = self.stats[peer]
        queue = link.queue
        try:
            while True:
                frame = await queue.get()
                chunks = [frame]
                while not queue.empty() and len(chunks) < 256:
                    chunks.append(queue.get_nowait())
                link.writer.writelines(chunks)
                stats.sent += len(chunks)
                await link.writer.drain()
        except (ConnectionError, OSError):
            link.writer.close()
