"""Small JSON requests scored together: one frame, one encode, one booster call per batch.

Scoring one row costs almost what scoring fifty does: the fixed cost of building a frame,
encoding it with the model's spec (polars builds each categorical's enum per call) and
calling the booster is milliseconds, the per-row cost microseconds. So requests that arrive
while a batch is being scored wait for the next batch, which takes all of them at once
(dynamic batching: no timer, an idle server scores a lone request at once; only concurrency
makes batches). One batch is scored at a time, in a worker thread, so the event loop goes on
reading and checking the next requests meanwhile.

What batching must not change: each request was checked on its own before it joins
(``bodies.json_columns``: a bad value is that request's 400, never its neighbours'); requests
are grouped by the ``Served`` they took at their start, so a request still finishes on the
model it started with and no answer mixes versions; each request gets its own slice of the
batch's scores — the values scoring it alone gives (the encoder and the booster score rows
independently).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.serve.champion import Served

MAX_BATCH_ROWS = 4096


@dataclass
class Item:
    """One request's checked columns, waiting for its answer."""

    columns: dict[str, list[Any]]
    rows: int
    request: str
    ts: str
    future: asyncio.Future[bytes] = field(repr=False)


Score = Callable[[Served, list[Item]], list[bytes]]


class Batcher:
    def __init__(self, score: Score) -> None:
        self.score = score
        self._pending: dict[int, tuple[Served, list[Item]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.batched = 0  # requests scored in batches

    async def submit(
        self, served: Served, columns: dict[str, list[Any]], rows: int, request: str, ts: str
    ) -> bytes:
        loop = asyncio.get_running_loop()
        item = Item(columns, rows, request, ts, loop.create_future())
        self._pending.setdefault(id(served), (served, []))[1].append(item)
        if self._task is None:
            self._task = loop.create_task(self._run())
        return await item.future

    async def _run(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # requests read in this turn of the loop join too
                pending, self._pending = self._pending, {}
                for served, items in pending.values():
                    for chunk in _chunks(items):
                        await self._score(served, chunk)
        finally:
            self._task = None

    async def _score(self, served: Served, chunk: list[Item]) -> None:
        try:
            answers = await asyncio.to_thread(self.score, served, chunk)
        except Exception as e:  # every request of the batch gets the error
            for item in chunk:
                if not item.future.done():
                    item.future.set_exception(e)
            return
        self.batches += 1
        self.batched += len(chunk)
        for item, answer in zip(chunk, answers, strict=True):
            if not item.future.done():  # a client that went away cancelled its future
                item.future.set_result(answer)


def _chunks(items: list[Item]) -> list[list[Item]]:
    out: list[list[Item]] = [[]]
    rows = 0
    for item in items:
        if out[-1] and rows + item.rows > MAX_BATCH_ROWS:
            out.append([])
            rows = 0
        out[-1].append(item)
        rows += item.rows
    return out
