"""One scheduler per loaded Qwen3 model: a worker thread that steps every active stream at once.

A stream (one segment of one context) is a row. Each iteration of the worker:

1. drops rows that were cancelled or whose consumer left (before any work on them);
2. prefills newcomers inline, within a budget (`admission.py`): while some row has been
   heard, about one step's worth of prompt pieces (`prefill_chunk` positions each, at least
   one piece), so the rows already speaking wait about one step per iteration at most;
   while no row has been heard yet, every newcomer, and the first code-predictor pass waits
   for them all, so streams arriving together get their first audio together;
3. runs the code predictor's 15 sub-steps once for every row holding a codebook-0 token,
   and pushes each row's new frame through its own streaming decoder when its next chunk
   is due (chunk sizes 1, 2, 4, 8 frames, as `engine.CHUNK_SCHEDULE`), newcomers' first
   chunks first; free lanes take some of these decoder calls (each row's decoder is used
   by one thread at a time, and all are done before the talker step) when a call costs
   enough CPU to be worth a second thread (`share_decode_min_s`; short ones stay on the worker);
4. runs ONE batched talker step for every row that needs the next token, and samples each.

Beside the worker, `prefill_lanes` threads (default 1) prefill newcomers the moment they
arrive, piece by piece, in parallel with the batched steps: on a CPU where torch runs one
thread per op, the step loop keeps one core busy and a lane uses another; on a GPU a lane's
kernels interleave with the steps'. A row is prefilled by one thread at a time (it is
"claimed"); a prompt is always cut into the same pieces, whoever runs them, so a row's
numbers never depend on who prefilled it or when.

Rows join and leave between iterations (`batched.py` keeps each row's numbers the same
whatever the batch). A row whose consumer has `max_queued_chunks` chunks unread is paused:
it sits out the iterations until its consumer reads, and the others go on. A row that fails
(its prefill, its decoder) fails alone; an error inside a batched forward fails the rows of
that forward. The frame bound and "no EOS in the first frames" are per row (`RowState`).

The worker holds the model only while it has rows: it (and its lanes) exit when the last
row leaves, so an idle model is free to be unloaded (rows hold the model's lease through
their voice).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from realtime.engines.base import CancelFlag, GenerationError
from realtime.engines.qwen3.admission import PrefillBudget
from realtime.engines.qwen3.batched import BatchedTalker, RowState, choose_tokens, rows_memory_bytes
from realtime.engines.qwen3.prompts import TalkerPrompt
from realtime.engines.qwen3.sampling import SamplingParams

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 8
DEFAULT_MAX_QUEUED_CHUNKS = 2
DEFAULT_PREFILL_CHUNK = 32  # prompt positions per prefill piece (cancel and the budget act between pieces)
DEFAULT_PREFILL_LANES = 1  # threads that prefill newcomers beside the step loop
# A lane takes decoder calls only when they cost at least this much CPU each: a short call is
# mostly Python work under the GIL, and two threads handing the GIL to each other at every
# torch op get less done than one (the tiny checkpoint's 8-frame call, ~15 ms, runs at 0.8x on
# two threads; the 0.6B's, ~1 s, at 1.2x).
DEFAULT_SHARE_DECODE_MIN_S = 0.05
_DECODE_COST_WEIGHT = 0.2  # weight of the newest call in the running mean of the decoder's cost
_CONSUMER_POLL_S = 0.05  # how often a waiting consumer looks at its cancel flag
_IDLE_WAIT_S = 0.5
_RELEASE_WAIT_S = 30.0  # the next segment waits this long at most for the worker to let go of the last row

ChunkSizes = Callable[[int], int]


@dataclass(frozen=True, slots=True)
class RowOutput:
    """One decoded piece of a row's audio; `final` marks the segment's last piece."""

    samples: np.ndarray
    final: bool


@dataclass(frozen=True, slots=True)
class SchedulerStats:
    """What /metrics shows of one model's batch: rows stepping now, rows waiting, iterations so far."""

    active: int
    waiting: int
    iterations: int
    largest_batch: int


class SchedulerClosed(GenerationError):
    """The scheduler was shut down (server stopping) while the row was waiting or speaking."""


class StreamRow:
    """The consumer's handle on one row: read its audio with `next_output`, leave with `close`."""

    def __init__(
        self,
        scheduler: BatchScheduler,
        state: RowState,
        decoder: Any,
        cancel: CancelFlag,
        chunk_frames: ChunkSizes,
    ) -> None:
        self.state = state
        self.decoder = decoder
        self.cancel = cancel
        self._scheduler = scheduler
        self._chunk_frames = chunk_frames
        self._outputs: deque[RowOutput] = deque()
        self._error: BaseException | None = None
        self._done = False  # nothing more will be queued
        self._closed = False  # the consumer left
        self._pending: list[torch.Tensor] = []
        self._chunks = 0
        self._claimed = False  # a thread (a lane or the worker) is prefilling this row now

    # -- consumer side -------------------------------------------------------------------

    def next_output(self) -> RowOutput | None:
        """The next piece (blocks); None once the row ended without more audio (stopped or cancelled)."""
        condition = self._scheduler.condition
        with condition:
            while not self._outputs:
                if self._error is not None:
                    raise GenerationError(str(self._error)) from self._error
                if self._done or self.cancel.is_set:
                    return None
                condition.wait(_CONSUMER_POLL_S)
            output = self._outputs.popleft()
            condition.notify_all()  # a paused row may run again
            return output

    def close(self) -> None:
        """The consumer leaves: the row is dropped before the scheduler's next stage. Idempotent and
        never blocks (it may run on the event loop, when a paused stream is closed there)."""
        with self._scheduler.condition:
            self._closed = True
            self._scheduler.condition.notify_all()

    def wait_released(self, timeout_s: float = _RELEASE_WAIT_S) -> bool:
        """Block until the worker no longer touches this row (at most one stage after `close`);
        the next segment of the context waits for this before it draws from the same generator."""
        condition = self._scheduler.condition
        with condition:
            return condition.wait_for(lambda: self._done or not self._scheduler.owns(self), timeout_s)

    # -- scheduler side (called with or without the lock, as marked) -----------------------

    @property
    def stopping(self) -> bool:
        return self._closed or self.cancel.is_set

    @property
    def heard(self) -> bool:
        """Its first chunk has left: a listener now waits on the batch for the rest."""
        return self._chunks > 0

    @property
    def needs_prefill(self) -> bool:
        return not self.state.speaking and self.state.outcome is None

    def next_piece(self, chunk: int | None) -> int:
        """Prompt positions the next prefill piece takes (the pieces depend on the prompt alone)."""
        remaining = self.state.prompt.length - self.state.prefilled
        return remaining if chunk is None else min(chunk, remaining)

    def paused(self, max_queued: int) -> bool:
        """Locked: the consumer has not read what is queued."""
        return len(self._outputs) >= max_queued

    def push_frame(self, frame: torch.Tensor) -> None:
        """Unlocked: one new frame; decodes and queues a chunk when one is due."""
        self._pending.append(frame)
        if len(self._pending) >= self._chunk_frames(self._chunks):
            self._emit(final=False)

    def chunk_due(self, extra: int = 0) -> bool:
        """With `extra` more frames, is a chunk due (so the next push decodes)?"""
        return len(self._pending) + extra >= self._chunk_frames(self._chunks)

    def finish_audio(self) -> None:
        """Unlocked: the row ended normally (EOS or bound): decode the tail, queue the final piece."""
        self._emit(final=True)

    def _emit(self, final: bool) -> None:
        pieces = []
        if self._pending:
            pieces.append(self.decoder.push(torch.stack(self._pending)))
            self._pending = []
        if final:
            pieces.append(self.decoder.finish())
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        with self._scheduler.condition:
            self._outputs.append(RowOutput(samples, final))
            self._chunks += 1
            if final:
                self._done = True
            self._scheduler.condition.notify_all()

    def fail(self, error: BaseException) -> None:
        """Unlocked: the row ends with `error` (raised to its consumer)."""
        self.state.finish("stopped")
        with self._scheduler.condition:
            self._error = error
            self._done = True
            self._scheduler.condition.notify_all()

    def stop(self) -> None:
        """Locked: ended by cancel or by its consumer leaving: no more audio."""
        self.state.finish("stopped")
        self._done = True
        self._scheduler.condition.notify_all()


class _Crew:
    """One worker's run: its lanes stop when it ends, and fail any row they hold with `reason`."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reason: BaseException | None = None


class BatchScheduler:
    """The batched step loop of one model; see the module docstring.

    `max_batch` rows are stepped together at most (the rest wait, first come first
    served); `tile_rows` and `exact` set the row tiles of the linear layers (`tiles.py`);
    `prefill_chunk` is the prompt positions of one prefill piece (None: whole prompts);
    `prefill_lanes` threads prefill newcomers beside the step loop (0: the worker alone);
    `prefill_steps` is the inline prefill the worker allows itself per iteration once rows
    are heard, in steps (`admission.PrefillBudget`; 0: one piece per iteration);
    `share_decode_min_s`: the CPU seconds a decoder call must cost, on average, before free
    lanes take some of them (0: always share; cheaper calls stay on the worker, see the constant).
    """

    def __init__(
        self,
        max_batch: int = DEFAULT_MAX_BATCH,
        *,
        tile_rows: int | None = None,
        exact: bool = True,
        max_queued_chunks: int = DEFAULT_MAX_QUEUED_CHUNKS,
        prefill_chunk: int | None = DEFAULT_PREFILL_CHUNK,
        prefill_lanes: int = DEFAULT_PREFILL_LANES,
        prefill_steps: float = 1.0,
        share_decode_min_s: float = DEFAULT_SHARE_DECODE_MIN_S,
        name: str = "qwen3",
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_queued_chunks < 1:
            raise ValueError(f"max_queued_chunks must be >= 1, got {max_queued_chunks}")
        if prefill_chunk is not None and prefill_chunk < 1:
            raise ValueError(f"prefill_chunk must be >= 1 or None, got {prefill_chunk}")
        if prefill_lanes < 0:
            raise ValueError(f"prefill_lanes must be >= 0, got {prefill_lanes}")
        self.max_batch = max_batch
        self.tile_rows = tile_rows if tile_rows is not None else min(max_batch, 8)
        self.exact = exact
        self.max_queued_chunks = max_queued_chunks
        self.prefill_chunk = prefill_chunk
        self.prefill_lanes = prefill_lanes
        self.budget = PrefillBudget(prefill_steps)
        self.share_decode_min_s = share_decode_min_s
        self.decode_cost_s: float | None = None  # running mean of a decoder call's CPU seconds (None: none yet)
        self.name = name
        self.condition = threading.Condition()
        self._waiting: deque[StreamRow] = deque()
        self._active: list[StreamRow] = []
        self._thread: threading.Thread | None = None
        self._crew: _Crew | None = None
        self._alive = 0  # worker and lane threads not yet returned (they may still hold the model)
        self._decodes: deque[Callable[[], None]] = deque()  # the iteration's decoder calls not yet taken
        self._decodes_running = 0
        self._tts: Any = None
        self._closed = False
        self.iterations = 0
        self.largest_batch = 0
        self.peak_cache_bytes = 0

    # -- consumer side -------------------------------------------------------------------

    def submit(
        self,
        tts: Any,
        prompt: TalkerPrompt,
        params: SamplingParams,
        generator: torch.Generator,
        max_frames: int,
        cancel: CancelFlag,
        decoder: Any,
        chunk_frames: ChunkSizes,
        min_frames: int = 2,
    ) -> StreamRow:
        """Queue one utterance; its audio comes out of the returned row's `next_output`."""
        vocab = int(getattr(tts, "model", tts).talker.config.vocab_size)
        state = RowState(prompt, params, generator, max_frames, min_frames, vocab_size=vocab)
        row = StreamRow(self, state, decoder, cancel, chunk_frames)
        with self.condition:
            if self._closed:
                raise SchedulerClosed("the model's scheduler is shut down")
            if self._tts is not None and self._tts is not tts:
                if self._active or self._waiting:
                    raise GenerationError("the model was reloaded while streams were running on the old one")
                self._tts = None
            if self._tts is None:
                self._tts = tts
            self._waiting.append(row)
            self._admit_locked()  # at once: an idle lane starts its prefill now, not at the next iteration
            if self._thread is None:
                self._crew = _Crew()
                self._thread = threading.Thread(target=self._run, args=(self._crew,), name=f"batch-{self.name}",
                                                daemon=True)
                self._alive += 1
                self._thread.start()
            self.condition.notify_all()
        return row

    def owns(self, row: StreamRow) -> bool:
        """Locked: the worker or a lane may still work on `row` (it is held, waiting or in the batch)."""
        return row._claimed or (self._thread is not None and (row in self._active or row in self._waiting))

    def stats(self) -> SchedulerStats:
        with self.condition:
            active = sum(1 for row in self._active if not row._done)  # a finished row leaves at the next round
            return SchedulerStats(active, len(self._waiting), self.iterations, self.largest_batch)

    @property
    def active_rows(self) -> int:
        with self.condition:
            return len(self._active)

    @property
    def running(self) -> bool:
        with self.condition:
            return self._thread is not None or self._alive > 0

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Fail every row (server stopping) and wait for the worker and its lanes to leave."""
        with self.condition:
            self._closed = True
            self.condition.notify_all()
            if threading.current_thread().name.startswith(f"batch-{self.name}"):
                return
            self.condition.wait_for(lambda: self._thread is None and self._alive == 0, timeout_s)

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no row is active or waiting and no thread holds the model (tests, unload)."""
        with self.condition:
            return self.condition.wait_for(lambda: self._thread is None and self._alive == 0, timeout_s)

    # -- the worker ------------------------------------------------------------------------

    def _run(self, crew: _Crew) -> None:
        batched: BatchedTalker | None = None
        try:
            with torch.inference_mode():
                while True:
                    runnable = self._next_round(crew)
                    if runnable is None:
                        return
                    if batched is None:
                        batched = BatchedTalker(self._tts, tile_rows=self.tile_rows, exact=self.exact)
                        for lane in range(self.prefill_lanes):
                            self._start_lane(batched, crew, lane)
                    self._iterate(batched, runnable)
        except BaseException as exc:  # noqa: BLE001  (a bug here must fail the rows, not hang their consumers)
            logger.exception("%s: batch scheduler failed", self.name)
            with self.condition:
                crew.reason = exc
                rows = [row for row in (*self._active, *self._waiting) if not row._claimed]  # lanes fail theirs
                self._active.clear()
                self._waiting.clear()
                self._leave_locked(crew)
            for row in rows:
                row.fail(exc)
        finally:
            crew.stop.set()
            del batched
            with self.condition:
                self._alive -= 1
                self.condition.notify_all()

    def _leave_locked(self, crew: _Crew) -> None:
        """Locked: this worker ends; a row submitted from now on starts a new one."""
        if self._crew is crew:
            self._thread = None
            self._crew = None
            if not self._active and not self._waiting:
                self._tts = None
        crew.stop.set()
        self.condition.notify_all()

    def _next_round(self, crew: _Crew) -> list[StreamRow] | None:
        """Locked bookkeeping between iterations: the rows to work on, or None to exit."""
        with self.condition:
            while True:
                if self._closed:
                    crew.reason = SchedulerClosed("the server is shutting down")
                    for row in [*self._active, *self._waiting]:
                        row._error = crew.reason
                        if not row._claimed:  # a lane fails the row it holds when it sees the stop
                            row.stop()
                    self._active.clear()
                    self._waiting.clear()
                    self._leave_locked(crew)
                    return None
                self._drop_stopped_locked()
                self._admit_locked()
                if not self._active and not self._waiting:
                    self._leave_locked(crew)
                    return None
                free = [row for row in self._active if not row._claimed]
                if any(row.needs_prefill for row in free):
                    return free  # the worker prefills them itself (within its budget)
                ready = [row for row in free if not row.paused(self.max_queued_chunks)]
                if ready and (len(free) == len(self._active) or any(row.heard for row in self._active)):
                    return ready  # (while nobody has been heard, the first pass waits for the lanes' newcomers)
                self.condition.wait(_IDLE_WAIT_S)

    def _admit_locked(self) -> None:
        while self._waiting and len(self._active) < self.max_batch:
            self._active.append(self._waiting.popleft())

    def _drop_stopped_locked(self) -> None:
        """Rows that ended leave the batch (their consumer reads what is queued); cancelled ones stop.
        A row a lane holds stays until the lane lets go of it."""
        kept = []
        for row in self._active:
            if row._claimed:
                kept.append(row)
                continue
            if row._done:
                continue
            if row.stopping:
                row.stop()
                continue
            kept.append(row)
        self._active = kept
        waiting: deque[StreamRow] = deque()
        for row in self._waiting:
            if row.stopping:
                row.stop()
            else:
                waiting.append(row)
        self._waiting = waiting

    # -- prefill: the lanes and the worker's inline budget ------------------------------------

    def _claim_newcomer_locked(self) -> StreamRow | None:
        """Locked: the oldest row still to prefill that nobody holds, now held by the caller."""
        for row in self._active:
            if not row._claimed and row.needs_prefill and not row.stopping:
                row._claimed = True
                return row
        return None

    def _release(self, row: StreamRow) -> None:
        with self.condition:
            row._claimed = False
            self.condition.notify_all()

    def _start_lane(self, batched: BatchedTalker, crew: _Crew, lane: int) -> None:
        with self.condition:
            self._alive += 1
        thread = threading.Thread(target=self._lane, args=(batched, crew), name=f"batch-{self.name}-prefill-{lane}",
                                  daemon=True)
        thread.start()

    def _lane(self, batched: BatchedTalker, crew: _Crew) -> None:
        """A prefill lane: takes each newcomer as it arrives and prefills its whole prompt, piece by
        piece (cancel honoured between pieces), while the worker steps the others."""
        try:
            with torch.inference_mode():
                while True:
                    with self.condition:
                        row = deliver = None
                        while not crew.stop.is_set():
                            if self._decodes:  # a decoder call of the worker's iteration comes first
                                deliver = self._decodes.popleft()
                                self._decodes_running += 1
                                break
                            if (row := self._claim_newcomer_locked()) is not None:
                                break
                            self.condition.wait(_IDLE_WAIT_S)
                    if deliver is not None:
                        self._run_decode(deliver)
                        continue
                    if row is None:
                        return
                    try:
                        while row.needs_prefill and not row.stopping and not crew.stop.is_set():
                            self._prefill_piece(batched, row)
                        if crew.stop.is_set() and not row._done:
                            row.fail(crew.reason or SchedulerClosed("the model's scheduler stopped"))
                    finally:
                        self._release(row)
        finally:
            del batched
            with self.condition:
                self._alive -= 1
                self.condition.notify_all()

    def _prefill_inline(self, batched: BatchedTalker) -> None:
        """The worker's own prefill this iteration: newcomers no lane holds, piece by piece, within the budget."""
        spent = 0.0
        while True:
            with self.condition:
                heard = any(row.heard for row in self._active)
                row = next(
                    (row for row in self._active if not row._claimed and row.needs_prefill and not row.stopping), None
                )
                if row is None or not self.budget.allows(spent, row.next_piece(self.prefill_chunk), heard=heard):
                    return
                row._claimed = True
            try:
                spent += self._prefill_piece(batched, row)
            finally:
                self._release(row)

    def _prefill_piece(self, batched: BatchedTalker, row: StreamRow) -> float:
        """One piece of a newcomer's prefill, alone; its first token once the prompt is in. A failure
        fails this row only. Returns the seconds it took (and feeds them to the budget)."""
        positions = row.next_piece(self.prefill_chunk)
        began = time.perf_counter()
        try:
            logits = batched.prefill(row.state, self.prefill_chunk)
            if logits is not None and not row.state.choose_token(logits, row.state.prompt.eos_token_id):
                row.finish_audio()  # EOS at once (only possible with min_frames 0)
        except Exception as exc:  # noqa: BLE001
            logger.warning("%s: a stream failed at its prefill: %s", self.name, exc)
            row.fail(exc)
        seconds = time.perf_counter() - began
        with self.condition:
            self.budget.record_prefill(positions, seconds)
        return seconds

    # -- one iteration ---------------------------------------------------------------------

    def _iterate(self, batched: BatchedTalker, rows: list[StreamRow]) -> None:
        # 2. prefill: the worker's share (a lane may be prefilling others meanwhile)
        self._prefill_inline(batched)
        with self.condition:
            if not any(row.heard for row in self._active) and any(row._claimed for row in self._active):
                return  # nobody heard yet: the first pass waits for the newcomers a lane is prefilling
            rows = [  # (a lane only ever takes rows still to prefill: these stay the worker's)
                row for row in self._active
                if not row._claimed and not row.needs_prefill and not row.paused(self.max_queued_chunks)
            ]
        began = time.perf_counter()
        # 3. the code predictor for every row holding a token; newcomers' first chunks decoded first
        predicting = [row for row in rows if row.state.token is not None and not self._stopped(row)]
        if predicting:
            self.largest_batch = max(self.largest_batch, len(predicting))
            try:
                frames = batched.residual_codes([row.state for row in predicting])
            except Exception as exc:  # noqa: BLE001
                self._fail_all(predicting, exc)
                return
            decodes: list[Callable[[], None]] = []
            for index in sorted(range(len(predicting)), key=lambda index: predicting[index].heard):
                row = predicting[index]
                last = row.state.frames >= row.state.max_frames
                if last:
                    row.state.finish("limit")
                deliver = partial(self._deliver, row, frames[index], last)
                if last or row.chunk_due(extra=1):
                    decodes.append(deliver)
                else:
                    deliver()  # the frame only waits for its chunk: nothing to decode yet
            self._decode(decodes)
        # 4. one talker step for every row that needs its next token
        stepping = [
            row for row in rows
            if row.state.outcome is None and row.state.next_input is not None and not self._stopped(row)
        ]
        if stepping:
            self.peak_cache_bytes = max(self.peak_cache_bytes, rows_memory_bytes([row.state for row in stepping]))
            try:
                logits = batched.talker_step([row.state for row in stepping])
            except Exception as exc:  # noqa: BLE001
                self._fail_all(stepping, exc)
                return
            for row, chosen in zip(stepping, choose_tokens([row.state for row in stepping], logits), strict=True):
                try:
                    if isinstance(chosen, Exception):
                        raise chosen
                    if not chosen:
                        row.finish_audio()
                except Exception as exc:  # noqa: BLE001
                    row.fail(exc)
        if predicting or stepping:
            with self.condition:
                self.budget.record_step(time.perf_counter() - began)
            self.iterations += 1

    @staticmethod
    def _deliver(row: StreamRow, frame: torch.Tensor, last: bool) -> None:
        """A row's new frame to its decoder (a chunk when one is due; the tail when `last`)."""
        try:
            row.push_frame(frame)
            if last:
                row.finish_audio()
        except Exception as exc:  # noqa: BLE001  (its decoder): this row only
            row.fail(exc)

    def _decode(self, decodes: list[Callable[[], None]]) -> None:
        """This iteration's decoder calls (one per row, newcomers' first), shared with the lanes that
        are free: each lane takes the next call from the queue while the worker takes the others.
        All are done before the talker step, so a row's decoder is used by one thread at a time."""
        if self.prefill_lanes == 0 or len(decodes) < 2 or not self._decodes_worth_sharing():
            for deliver in decodes:
                self._timed_decode(deliver)
            return
        with self.condition:
            self._decodes.extend(decodes)
            self.condition.notify_all()
        while True:
            with self.condition:
                if not self._decodes:
                    self.condition.wait_for(lambda: self._decodes_running == 0)
                    return
                deliver = self._decodes.popleft()
                self._decodes_running += 1
            self._run_decode(deliver)

    def _decodes_worth_sharing(self) -> bool:
        """Share only calls known to be long (unknown yet: share, as the first calls of a model are
        the newcomers' first chunks, where a second thread helps most if they are long)."""
        with self.condition:
            cost = self.decode_cost_s
        return cost is None or cost >= self.share_decode_min_s

    def _timed_decode(self, deliver: Callable[[], None]) -> None:
        """Run one decoder call and fold its CPU time (this thread's: waiting for the GIL or for a
        core does not count) into the running mean."""
        began = time.thread_time()
        deliver()
        spent = time.thread_time() - began
        with self.condition:
            previous = self.decode_cost_s
            self.decode_cost_s = spent if previous is None else previous + _DECODE_COST_WEIGHT * (spent - previous)

    def _run_decode(self, deliver: Callable[[], None]) -> None:
        try:
            self._timed_decode(deliver)
        finally:
            with self.condition:
                self._decodes_running -= 1
                self.condition.notify_all()

    def _stopped(self, row: StreamRow) -> bool:
        """Cancel or the consumer leaving is honoured before each stage of each row."""
        if row.stopping:
            with self.condition:
                if not row._done:
                    row.stop()
            return True
        return row.state.outcome is not None

    def _fail_all(self, rows: list[StreamRow], exc: BaseException) -> None:
        logger.warning("%s: a batched forward over %d rows failed: %s", self.name, len(rows), exc)
        for row in rows:
            row.fail(exc)
