"""A validator's durable consensus record: cars, commit certificates, what each slot emitted, its own votes,
AppQCs and evidence. SQLite (stdlib, WAL) rather than the kernel's LMDB: LMDB may be opened once per process and
belongs to the native store, and these records are small, written a few times per slot.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from pysei.consensus.messages import Car, Commit, Evidence, Sig

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cars (digest BLOB PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS commits (slot INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS emitted (slot INTEGER PRIMARY KEY, cars BLOB NOT NULL, lanes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS lane_votes (lane INTEGER PRIMARY KEY, pos INTEGER NOT NULL, digest BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS own_lane (k INTEGER PRIMARY KEY, pos INTEGER NOT NULL, digest BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS app_qcs (block INTEGER PRIMARY KEY, commitment BLOB NOT NULL, signers BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS evidence (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, offender INTEGER, body BLOB);
CREATE TABLE IF NOT EXISTS evidence_included (offender INTEGER PRIMARY KEY, slot INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS app_qc_sigs (block INTEGER PRIMARY KEY, sigs BLOB NOT NULL);
"""


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._enc = msgspec.msgpack.Encoder()
        self._car = msgspec.msgpack.Decoder(Car)
        self._commit = msgspec.msgpack.Decoder(Commit)

    def close(self) -> None:
        self._db.close()

    # --- cars ----------------------------------------------------------------------------------------------
    def put_cars(self, cars: list[tuple[bytes, Car]]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO cars VALUES (?, ?)", [(d, self._enc.encode(c)) for d, c in cars])

    def car(self, digest: bytes) -> Car | None:
        row = self._db.execute("SELECT body FROM cars WHERE digest = ?", (digest,)).fetchone()
        return None if row is None else self._car.decode(row[0])

    # --- slots ---------------------------------------------------------------------------------------------
    def put_commit(self, commit: Commit) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO commits VALUES (?, ?)", (commit.proposal.slot, self._enc.encode(commit))
        )

    def commit(self, slot: int) -> Commit | None:
        row = self._db.execute("SELECT body FROM commits WHERE slot = ?", (slot,)).fetchone()
        return None if row is None else self._commit.decode(row[0])

    def last_commit_slot(self) -> int:
        row = self._db.execute("SELECT MAX(slot) FROM commits").fetchone()
        return int(row[0] or 0)

    def put_emitted(self, slot: int, car_digests: list[bytes], lanes: list[int]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO emitted VALUES (?, ?, ?)",
            (slot, self._enc.encode(car_digests), self._enc.encode(lanes)),
        )

    def prune(self, below: int) -> int:
        """Deletes the commits, emission records and cars of slots below ``below`` (blocks the chain store already
        holds); returns how many cars went, and the AppQC signatures of those blocks (a snapshot is offered at a
        recent block). Kept: AppQCs (``sei_getStateCommitment`` answers for every block), evidence, this
        validator's own votes and tip, and the last car of each lane it voted for (a validator that state-syncs
        resumes its own lane from it). A peer further behind than what is kept cannot sync slot by slot from this
        validator any more."""
        rows = self._db.execute("SELECT cars FROM emitted WHERE slot < ?", (below,)).fetchall()
        voted = {bytes(d) for (d,) in self._db.execute("SELECT digest FROM lane_votes")}
        decoded = (d for (cars,) in rows for d in msgspec.msgpack.decode(cars, type=list[bytes]))
        digests = [(d,) for d in decoded if d not in voted]
        with self._db:  # one transaction: a crash leaves all or nothing of the prune
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM cars WHERE digest = ?", digests)
            self._db.execute("DELETE FROM commits WHERE slot < ?", (below,))
            self._db.execute("DELETE FROM emitted WHERE slot < ?", (below,))
            self._db.execute("DELETE FROM app_qc_sigs WHERE block < ?", (below,))
        return len(digests)

    def first_commit_slot(self) -> int | None:
        """The oldest slot whose commit is still kept (None when none is)."""
        row = self._db.execute("SELECT MIN(slot) FROM commits").fetchone()
        return None if row[0] is None else int(row[0])

    def emitted(self, slot: int) -> tuple[list[bytes], list[int]] | None:
        row = self._db.execute("SELECT cars, lanes FROM emitted WHERE slot = ?", (slot,)).fetchone()
        if row is None:
            return None
        return msgspec.msgpack.decode(row[0], type=list[bytes]), msgspec.msgpack.decode(row[1], type=list[int])

    # --- own votes (never vote twice at one lane position, across restarts) ---------------------------------
    def put_lane_vote(self, lane: int, pos: int, digest: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO lane_votes VALUES (?, ?, ?)", (lane, pos, digest))

    def lane_votes(self) -> dict[int, tuple[int, bytes]]:
        return {lane: (pos, d) for lane, pos, d in self._db.execute("SELECT lane, pos, digest FROM lane_votes")}

    def put_own_tip(self, pos: int, digest: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO own_lane VALUES (0, ?, ?)", (pos, digest))

    def own_tip(self) -> tuple[int, bytes] | None:
        row = self._db.execute("SELECT pos, digest FROM own_lane WHERE k = 0").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    # --- state agreement and evidence ----------------------------------------------------------------------
    def put_app_qc(self, block: int, commitment: bytes, signers: list[int]) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO app_qcs VALUES (?, ?, ?)", (block, commitment, self._enc.encode(signers))
        )

    def put_app_qc_sigs(self, block: int, sigs: list[Sig]) -> None:
        """The AppQC's signatures themselves (what a validator syncing from a snapshot checks)."""
        self._db.execute("INSERT OR IGNORE INTO app_qc_sigs VALUES (?, ?)", (block, self._enc.encode(sigs)))

    def app_qc_sigs(self, block: int) -> list[Sig] | None:
        row = self._db.execute("SELECT sigs FROM app_qc_sigs WHERE block = ?", (block,)).fetchone()
        return None if row is None else msgspec.msgpack.decode(row[0], type=list[Sig])

    def app_qc(self, block: int) -> tuple[bytes, list[int]] | None:
        row = self._db.execute("SELECT commitment, signers FROM app_qcs WHERE block = ?", (block,)).fetchone()
        return None if row is None else (bytes(row[0]), msgspec.msgpack.decode(row[1], type=list[int]))

    def last_app_qc(self) -> int:
        row = self._db.execute("SELECT MAX(block) FROM app_qcs").fetchone()
        return int(row[0] or 0)

    def put_evidence(self, evidence: Evidence) -> None:
        self._db.execute(
            "INSERT INTO evidence (kind, offender, body) VALUES (?, ?, ?)",
            (evidence.kind, evidence.offender, self._enc.encode(evidence)),
        )

    def evidence(self) -> list[Evidence]:
        rows = self._db.execute("SELECT body FROM evidence ORDER BY id").fetchall()
        return [msgspec.msgpack.decode(r[0], type=Evidence) for r in rows]

    def has_evidence(self, offender: int) -> bool:
        return self._db.execute("SELECT 1 FROM evidence WHERE offender = ?", (offender,)).fetchone() is not None

    def put_evidence_included(self, offender: int, slot: int) -> None:
        """Evidence against ``offender`` reached the chain in ``slot`` (one piece is enough: it tombstones)."""
        self._db.execute("INSERT OR IGNORE INTO evidence_included VALUES (?, ?)", (offender, slot))

    def evidence_included(self) -> set[int]:
        return {int(r[0]) for r in self._db.execute("SELECT offender FROM evidence_included").fetchall()}
