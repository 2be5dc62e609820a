"""What a check needs of a recording (a `summary_records.RecordingSummary`), and the recording it stands for.

A recording's raw inputs are most of its bytes, but a check only needs each
call's place, recorded keys, current keys and output digest, plus the findings
that depend on the recording alone. `summarize_file` keeps exactly that;
`from_summary` gives back a *summary recording*: a `Recording` whose calls carry
no input or output, which `check` treats like the parsed one (its keys, link
tables and volatile findings are already in `derived`). Readers that need the
inputs (hover, replay, sessions) read the file itself.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import logging
import os
import select
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from server.engine import findings as codes
from server.engine.checks import VolatileTally, locate_in_line, volatile_memo_key
from server.engine.config import Config
from server.engine.files import MAX_LINE_BYTES, open_regular, size_text, skip_line
from server.engine.findings import Finding
from server.engine.normalize import InputShapeError, KeyChain, Keys, Normalizer, shape_error
from server.engine.outputs import output_digest
from server.engine.recording import LineParser, RecordedCall, Recording, read_line
from server.engine.regex_budget import written
from server.engine.secrets import finding_context
from server.engine.source import LINE_BREAK, Position, Range, SourceText, Span, code_units
from server.engine.summary_children import Child, chosen_workers, usable_cores, worth_children
from server.engine.summary_records import (
    CallSummary,
    FirstVolatile,
    Part,
    RecordingSummary,
    SummaryError,
    shifted_finding,
    shifted_range,
)
from server.engine.volatile import DETECTOR_NAMED, VolatileMatch

log = logging.getLogger(__name__)

_CHILD_START = 0.1
"""Seconds a child process takes to start (Python and the engine's imports) before it summarizes."""
_PROBE = 0.1
"""Seconds this process summarizes before it tells from its pace whether children would finish sooner."""


def summarize_file(
    path: Path, config: Config, cores: int | None = None, *, offload: bool = False
) -> tuple[RecordingSummary, str]:
    """The summary of the recording at `path` under `config`, and the sha256 of its bytes (`summary_of`)."""
    digest = hashlib.sha256()
    return summary_of(path, config, cores, offload=offload, digest=digest), digest.hexdigest()


def summary_of(
    path: Path, config: Config, cores: int | None = None, *, offload: bool = False, digest: Any = None
) -> RecordingSummary:
    """The summary of the recording at `path` under `config`; its bytes fed to `digest` (a hash) when one is
    given. Without one, no byte is read twice: this process does not read the children's parts to hash them.

    The file is read line by line and nothing of a line is kept but its summary
    (and, for the next calls to share, the history the key chain keeps), so a
    1 GB recording is summarized in the memory of a few of its lines. Lines,
    offsets, positions and findings are exactly those of `read_recording` and
    `check` on the whole text.

    With several `cores` (by default all there are), a big file is cut at line
    ends into parts that child processes summarize, this one taking the first
    unless told to `offload` them all (a server keeps its own core for its
    requests); the parts are joined, their lines, offsets and calls shifted
    into place. A part whose child fails is summarized here instead.
    """
    cores = usable_cores() if cores is None else cores
    children: list[tuple[Callable[[], Part | None], tuple[int, int]]] = []
    parts = []
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if offload and worth_children(size):
            setup = child_setup(config)
            children = [(_start_part(path, setup, *bound), bound) for bound in _bounds(handle, 0, size, cores, 0)]
            handle.seek(0)  # this process only hashes the file (when asked to)
        else:
            summary = _Summarizer(path, config)
            started, end = time.perf_counter(), size
            probing = cores > 1 and worth_children(size)  # until the pace is known: sharing is decided once
            while handle.tell() < end and (chunk := handle.readline(MAX_LINE_BYTES + 1)):
                if digest is not None:
                    digest.update(chunk)
                summary.add(chunk, handle, digest)
                if probing and time.perf_counter() - started > _PROBE:
                    probing = False
                    done = handle.tell()
                    pace = done / (time.perf_counter() - started)  # bytes a second
                    if (size - done) / pace > 2 * _CHILD_START:  # the rest takes long enough to share
                        bounds = _bounds(handle, done, size, cores, int(pace * _CHILD_START))
                        setup = child_setup(config)
                        children = [(_start_part(path, setup, *bound), bound) for bound in bounds[1:]]
                        end = bounds[0][1]
                        handle.seek(done)
            parts.append(summary.part())
        while digest is not None and (block := handle.read(1 << 20)):
            digest.update(block)
    for finish, (start, stop) in children:
        part = finish()
        parts.append(summarize_part(path, config, start, stop) if part is None else part)
    return _joined(path, config, parts)


Summarized = tuple[RecordingSummary, str] | OSError
"""A recording's summary and the sha256 of its bytes (as `summarize_file` gives them), or why it could not be read."""


class Sharing:
    """Recordings summarized on every core: handed out when made, so a caller can do other work (`poll` between
    its steps) while the children start on them, then `results` does the rest.

    Each result is also handed to `keep` as soon as it is known (the caller caches it while the children work
    on, instead of after them). A big file (`worth_children`) is cut into parts across the cores by
    `summarize_file`, one after another.
    The others are shared out a file at a time, between this process and `usable_cores() - 1` children (those
    `started_early` first): each child is kept `_AHEAD` files ahead, and this process takes the next file
    itself in between, so every core stays busy to the end whatever the files' sizes, and the results are
    those of summarizing each file here (only the order of the work differs). Children start only when the
    files are enough to share (`summary_children.PART_BYTES` in all) or when `$REPLAY_LENS_WORKERS` asks for
    them, and not on Windows. A child is handed its first files as it starts; a file whose child fails, or
    whose child has still not started when nothing else is left, is summarized here instead.
    """

    def __init__(
        self, paths: Sequence[Path], config: Config, keep: Callable[[int, Summarized], None] | None = None
    ) -> None:
        self.paths, self.config, self.keep = paths, config, keep
        self.done: list[Summarized | None] = [None] * len(paths)
        self.big: list[int] = []
        small: list[int] = []
        total = 0
        for index, path in enumerate(paths):
            try:
                size = os.stat(path).st_size
            except OSError as exc:
                self.done[index] = exc  # kept by `results`, in order with the rest
                continue
            if worth_children(size):
                self.big.append(index)
            else:
                small.append(index)
                total += size
        workers = min(usable_cores(), len(small))
        if workers < 2 or (chosen_workers() is None and not worth_children(total)) or os.name != "posix":
            workers = 1  # (answers are waited for with `select`, which takes no pipe on Windows)
        self.queue = collections.deque(small)
        setup = child_setup(config) if workers > 1 else {}
        self.children = [_Sharing(child) for _ in range(workers - 1) if (child := Child.start(setup)) is not None]
        self._hand_out()

    def poll(self) -> None:
        """Take the answers the children have given and hand them more files, without waiting."""
        if self.children:
            self._take_answers(wait=False)
            self._hand_out()

    def results(self) -> list[Summarized]:
        """Every file's result: the big ones cut into parts, the others shared with the children to the end."""
        for index, result in enumerate(self.done):
            if result is not None:  # unreadable when shared out
                self._finish(index, result)
        for index in self.big:
            self._finish(index, _summarized(self.paths[index], self.config))
        children, queue = self.children, self.queue
        while queue or any(sharing.tasks for sharing in children):
            self._take_answers(wait=False)
            self._hand_out()  # before this process's next file: a child never waits for one while it works
            if queue:
                index = queue.popleft()
                self._finish(index, _summarized(self.paths[index], self.config))
            elif any(sharing.tasks and sharing.ready for sharing in children):  # the last files: wait for them
                self._take_answers(wait=True)
            else:  # only children still starting hold files: dropped, their files done here
                for sharing in children:
                    sharing.tasks.clear()
                    sharing.gone = True
        for sharing in children:
            # Every file handed out is answered or taken back: nothing is left to wait for (its interpreter's
            # exit took ~10 ms). One that failed has exited already: its exit status is still said.
            sharing.child.close(stop=True)
        for index, result in enumerate(self.done):
            if result is None:  # its child failed: done here
                self._finish(index, _summarized(self.paths[index], self.config))
        return [result for result in self.done if result is not None]

    def _finish(self, index: int, result: Summarized) -> None:
        self.done[index] = result
        if self.keep is not None:
            self.keep(index, result)

    def _take_answers(self, *, wait: bool) -> None:
        """Take the answers the children have written (waiting for one if `wait`), read from their pipes as they
        come, in this thread (a thread of its own per child would wait for the GIL on every answer: on a busy
        machine, each wait a time slice of the scheduler).

        A child that is gone leaves its files to this process (their results stay None)."""
        listening = {sharing.child.fileno(): sharing for sharing in self.children if not sharing.gone}
        if not listening:
            return
        readable, _, _ = select.select(list(listening), [], [], None if wait else 0)
        for descriptor in readable:
            sharing = listening[descriptor]
            data = os.read(descriptor, 1 << 20)
            if not data:
                sharing.gone = True
                sharing.child.failed = True
                sharing.tasks.clear()
                continue
            *lines, sharing.received = (sharing.received + data).split(b"\n")
            for line in lines:
                answer = sharing.child.decoded(line)
                if not sharing.ready:
                    sharing.ready = answer == {"ready": True}
                    sharing.gone = sharing.child.failed = not sharing.ready
                    continue
                if not sharing.tasks:  # an answer to nothing asked: not one of ours to trust
                    sharing.gone = sharing.child.failed = True
                    break
                index = sharing.tasks.popleft()
                done = None if answer is None or "error" in answer else _whole(self.paths[index], answer)
                if done is not None:  # else done here at the end
                    self._finish(index, done)
                    log.debug("child process %d summarized %s", sharing.child.process.pid, self.paths[index])

    def _hand_out(self) -> None:
        for sharing in self.children:
            while not sharing.gone and len(sharing.tasks) < _AHEAD and self.queue:
                index = self.queue.popleft()
                sharing.tasks.append(index)
                sharing.child.send({"path": os.path.abspath(self.paths[index])})


_AHEAD = 2
"""Files a child is handed ahead: it starts the next one while this process reads its answer."""


class _Sharing:
    """A child of `Sharing`: whether it has started, the files it was handed, its answers' bytes."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self.ready = False
        self.tasks: collections.deque[int] = collections.deque()
        self.received = b""
        self.gone = False


def _whole(path: Path, answer: dict[str, Any]) -> tuple[RecordingSummary, str] | None:
    """A child's summary of the whole file at `path` and its digest; None (and why, logged) when it is not one."""
    digest = answer.get("digest")
    try:
        if not isinstance(digest, str):
            raise SummaryError(f"digest {digest!r}")
        return RecordingSummary.from_json(path, answer.get("summary")), digest
    except SummaryError as exc:
        log.warning("a summarizing process answered no summary for %s: %s", path, exc)
        return None


def child_setup(config: Config) -> dict[str, Any]:
    """What a child is told first (`part_child`): the rules, the allowed volatile patterns (vetted here), and
    each pattern as `regex` runs it, written out here once (`regex_budget.written`: ~40 ms a child need not
    spend scanning every code point again)."""
    patterns = [*(sub.compile() for sub in config.rules.substitutions), *config.allow_volatile]
    return {
        "rules": config.rules.to_json(),
        "allow": [[pattern.pattern, pattern.flags] for pattern in config.allow_volatile],
        "written": written(patterns),
    }


def _summarized(path: Path, config: Config) -> Summarized:
    try:
        return summarize_file(path, config)
    except OSError as exc:
        return exc


def summarize_part(path: Path, config: Config, start: int, end: int) -> Part:
    """The part of the summary of bytes `[start, end)` (whole lines), in coordinates relative to `start`."""
    summary = _Summarizer(path, config, start)
    with open_regular(path) as handle:
        handle.seek(start)
        while handle.tell() < end and (chunk := handle.readline(MAX_LINE_BYTES + 1)):
            summary.add(chunk, handle)
    return summary.part()


def _bounds(handle: BinaryIO, start: int, size: int, count: int, head_start: int) -> list[tuple[int, int]]:
    """`count` (or fewer) `[start, end)` ranges of whole lines from `start` on that take about as long to
    summarize: the first is larger by `head_start`, what this process does while the children start."""
    first = min(size, start + (size - start + (count - 1) * head_start) // count)
    cuts = [start]
    for k in range(1, count):
        handle.seek(first + (size - first) * (k - 1) // (count - 1))
        skip_line(handle, b"")  # on to the next line's start, however far
        if cuts[-1] < handle.tell() < size:
            cuts.append(handle.tell())
    cuts.append(size)
    return list(itertools.pairwise(cuts))


def _start_part(path: Path, setup: dict[str, Any], start: int, end: int) -> Callable[[], Part | None]:
    """Start a child process told `setup` (`child_setup`, made once for all the parts) summarizing bytes
    `[start, end)` of `path`; wait for its part with the function returned, which gives None when it failed
    (and logs why)."""
    child = Child.start(setup)
    if child is None:
        return lambda: None
    child.send({"path": os.path.abspath(path), "start": start, "end": end})  # its folder is not ours
    child.finish_tasks()

    def finish() -> Part | None:
        answer = child.answer() if child.ready() else None
        child.close(stop=answer is not None)  # answered: not waited for; failed: its exit status is said
        if answer is None or "error" in answer:
            return None
        try:
            part = Part.from_json(path, answer)
        except SummaryError as exc:
            log.warning("a summarizing process answered no part of %s: %s", path, exc)
            return None
        log.debug("child process %d summarized bytes %d-%d of %s", child.process.pid, start, end, path)
        return part

    return finish


def _joined(path: Path, config: Config, parts: list[Part]) -> RecordingSummary:
    """The summary of the whole file from its parts, in order: their relative places shifted into place."""
    calls: list[CallSummary] = []
    problems: list[Finding] = []
    decode_problem: Finding | None = None
    tally = VolatileTally(config)
    where: dict[str, tuple[Span, Range]] = {}
    contexts: dict[str, str] = {}
    lines = chars = 0
    for part in parts:
        count = len(calls)
        calls.extend(call.shifted(count, lines, chars) for call in part.calls)
        if decode_problem is None and part.decode_problem is not None:
            decode_problem = shifted_finding(part.decode_problem, lines, chars)
        problems.extend(shifted_finding(problem, lines, chars) for problem in part.problems)
        for first in part.volatile:
            text = first.text
            if tally.merge(text, VolatileMatch(text, DETECTOR_NAMED[first.detector]), first.call + count, first.seen):
                where[text] = (
                    Span(first.span.start + chars, first.span.end + chars),
                    shifted_range(first.range, lines),
                )
                contexts[text] = first.context
        lines += part.lines
        chars += part.chars
    volatile = tally.findings(path, where)
    return RecordingSummary(
        calls,
        [decode_problem, *problems] if decode_problem else problems,
        volatile,
        [contexts[finding.data["text"]] for finding in volatile],
    )


class _Summarizer:
    """The state of `summarize_file` between two lines of the file."""

    def __init__(self, path: Path, config: Config, at_byte: int = 0) -> None:
        self.path = path
        self.chain = KeyChain(Normalizer(config.rules, volatile=True))  # the volatile scan folded in
        self.parser = LineParser()
        self.tally = VolatileTally(config)
        self.calls: list[CallSummary] = []
        self.problems: list[Finding] = []
        self.decode_problem: Finding | None = None
        self.where: dict[str, tuple[Span, Range]] = {}
        self.contexts: dict[str, str] = {}
        self.line = 0  # lines and offsets are counted from `at_byte`: `_joined` shifts them
        self.offset = 0
        self.bytes = at_byte
        self.piece = (at_byte, at_byte)

    def add(self, chunk: bytes, handle: BinaryIO, digest: Any = None) -> None:
        """One `\\n`-terminated piece of the file (the last may have no terminator), read from `handle`.

        A piece of `MAX_LINE_BYTES` with no break yet is the start of a line too long to hold: the rest of
        it is read past (fed to `digest`) and the line is a finding, not a call.
        """
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            self._skip(*skip_line(handle, chunk, digest))
            return
        piece = SourceText.from_bytes(chunk, self.bytes)
        text, bad = piece.text, piece.decode_problem
        if bad is not None and self.decode_problem is None:
            breaks = list(LINE_BREAK.finditer(text, 0, bad.offset))
            line_start = breaks[-1].end() if breaks else 0
            self.decode_problem = self._finding(
                codes.INVALID_JSON, text, bad.offset, bad.offset + 1, bad.message, self.line + len(breaks), line_start
            )
        self.piece = (self.bytes, self.bytes + len(chunk))
        self.bytes += len(chunk)
        starts = [0, *(m.end() for m in LINE_BREAK.finditer(text))] if "\r" in text else [0]
        for position, start in enumerate(starts):
            end = starts[position + 1] if position + 1 < len(starts) else len(text)
            if start < end or position == 0:
                self._line(text, start, end)
        self.offset += len(text)

    def _skip(self, size: int, chars: int) -> None:
        """A line of `size` bytes and `chars` characters (its break included) that is not read."""
        message = f"line {self.line + 1} is longer than {size_text(MAX_LINE_BYTES)}: skipped"
        place = Range(Position(self.line, 0), Position(self.line, 0))
        code = codes.READ_ERROR
        self.problems.append(Finding(code, self.path, place, Span(self.offset, self.offset), message, code.severity))
        self.piece = (self.bytes, self.bytes + size)
        self.bytes += size
        self.offset += chars
        self.line += 1

    def _line(self, text: str, start: int, end: int) -> None:
        raw = text[start:end].rstrip("\r\n")
        line, offset = self.line, self.offset + start
        self.line += 1
        if not raw.strip():
            return
        truncated = not text.endswith(("\n", "\r")) and end == len(text)
        record, problem = read_line(self.parser, raw, truncated=truncated)
        if problem is not None:
            code, low, high, message = problem
            self.problems.append(self._finding(code, text, start + low, start + high, message, line, start))
        if record is None:
            return
        call = RecordedCall(len(self.calls), line, Span(offset, offset + len(raw)), record)
        try:
            computed: Keys | InputShapeError = self.chain.keys(call.caller, call.input)
        except InputShapeError as exc:
            computed = exc
        if isinstance(computed, Keys):
            for found in self.tally.add(call.index, computed):
                local = locate_in_line(text, Span(start, start + len(raw)), found)
                self.where[found] = (
                    Span(self.offset + local.start, self.offset + local.end),
                    _line_range(text, local, line, start),
                )
                self.contexts[found] = finding_context(SourceText(text), local)
        keys = (
            Keys(computed.caller, computed.conversation_hash, computed.input_hash)
            if isinstance(computed, Keys)
            else str(computed)
        )
        whole = Range(Position(line, 0), Position(line, code_units(raw)))  # `raw` is the line: no second copy
        self.calls.append(
            CallSummary(
                call.index,
                line,
                call.span,
                whole,
                call.caller if isinstance(call.caller, str) else None,
                call.input_hash,
                call.conversation_hash,
                keys,
                output_digest(call.output),
                (*self.piece, start),
            )
        )

    def _finding(
        self, code: codes.Code, text: str, low: int, high: int, message: str, line: int, line_start: int
    ) -> Finding:
        """A finding at `text[low:high]` of the current piece of the file, in its line `line` (from `line_start`)."""
        span = Span(self.offset + low, self.offset + high)
        return Finding(
            code, self.path, _line_range(text, Span(low, high), line, line_start), span, message, code.severity
        )

    def _first(self, text: str, call: int, match: VolatileMatch) -> FirstVolatile:
        span, place = self.where[text]
        return FirstVolatile(text, match.detector.name, call, self.tally.calls[text], span, place, self.contexts[text])

    def part(self) -> Part:
        """What `_joined` needs of this part (a child process sends it back as JSON)."""
        return Part(
            self.calls,
            self.problems,
            self.decode_problem,
            [self._first(text, call, match) for text, (call, match) in self.tally.first.items()],
            self.line,
            self.offset,
        )


def _line_range(text: str, span: Span, line: int, line_start: int) -> Range:
    """The range of `text[span]`, which lies in the line that starts at `line_start` and is line `line` of the file."""
    start = Position(line, code_units(text[line_start : span.start]))
    return Range(start, Position(line, start.character + code_units(text[span.start : span.end])))


def from_summary(path: Path, summary: RecordingSummary, config: Config) -> Recording:
    """The summary recording of `path`: its calls without inputs or outputs, their keys, volatile findings and
    output digests already in its `derived` memo (under `config`'s rules, which the summary was made with)."""
    recording = Recording(path=path, source=SourceText(""), summary=True, problems=list(summary.problems))
    keys: list[Keys | InputShapeError] = []
    for call in summary.calls:
        record = {"caller": call.caller, "input_hash": call.input_hash, "conversation_hash": call.conversation_hash}
        recording.calls.append(RecordedCall(call.index, call.line, call.span, record, call.range, call.stored))
        keys.append(call.keys if isinstance(call.keys, Keys) else shape_error(call.keys))
    recording.derived.keys[config.rules.fingerprint()] = keys
    recording.derived.volatile[volatile_memo_key(config)] = summary.volatile
    recording.derived.output_digests = [call.output_digest for call in summary.calls]
    recording.derived.contexts = {
        finding.span: context for finding, context in zip(summary.volatile, summary.contexts, strict=True)
    }
    return recording


def read_back(path: Path, call: RecordedCall) -> RecordedCall | None:
    """A call of a summary recording with its record read back from the file (its input and output).

    Only the piece of the file its line is in is read. None when the call was
    parsed whole already (nothing to read back), or when the file no longer
    holds that call there (changed since it was summarized: its keys differ).
    """
    if call.stored is None:
        return None
    start, end, line_start = call.stored
    try:
        with open_regular(path) as handle:
            handle.seek(start)
            data = handle.read(end - start)
    except OSError:
        return None
    raw = SourceText.from_bytes(data, start).text[line_start : line_start + call.span.end - call.span.start]
    record, _problem = read_line(LineParser(), raw, truncated=False)
    if record is None:
        return None
    found = RecordedCall(call.index, call.line, call.span, record, call.range, call.stored)
    same = (found.caller, found.input_hash, found.conversation_hash) == (
        call.caller,
        call.input_hash,
        call.conversation_hash,
    )
    return found if same else None


def kept_context(recording: Recording, span: Span) -> str | None:
    """What masking reads around a finding at `span` of a summary recording (which has no text to read it in)."""
    return recording.derived.contexts.get(span)
