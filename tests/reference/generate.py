"""Hypothesis strategies for random runs: history bytes, final reads, planted anomalies.
Over 500 lines because a run's parts (sends, records, reads, faults, logs) share the
generator's state (``Key``, ``Timeline``, the planted list) and weighting helpers;
split, each part would import them back from the others.

:func:`cases` draws one :class:`Case`: the raw bytes of a ``history.jsonl``
(written through the real file format, so the fast path reads the same
bytes) and the :class:`FinalReads` of the same run. A run has concurrent and
sequential sends over a few conversations and senders, client retries with
the same key, duplicate-injection resends (``retry_of``), ok / fail / info /
pending outcomes, one messageId per key or a new one per retry, answered
partition and offset, content tags (own, borrowed, absent), store records with
and without key, conversation, position, stored_at and tag (a *keyless* store,
the tutorial pipeline's shape, attributed by tag alone), reads that fail, read
items with and without tags, delivery logs, failpoint crash
windows with and without redelivery, dead letters, and planted anomalies of
every class of ``docs/verdicts.md``. On top, one of the mutations of
:mod:`tests.reference.mutate` may shuffle the lines (keeping each completion
after its invoke, or not) or break the file in one of the ways section 1
forbids (or allows: a torn last line). ``Case.planted`` names what was planted
(hypothesis reports them as events with ``--hypothesis-show-statistics``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import event
from hypothesis import strategies as st

from tests.reference.mutate import MAX_TIME, MUTATION_WEIGHTS, MUTATIONS, Case
from wiber_harness import reads as reads_module
from wiber_harness.history import Op
from wiber_harness.reads import DeliveryEvent, FinalReads, StoredRecord

MS = 1_000_000
CRASH = "consumer.after_store_before_commit"
HEADER = b'{"schema":"wiber-history/1","scenario":"generated"}'


@dataclass
class Key:
    """What the generator knows about one key while it builds the run."""

    key: str
    conv: str | None
    conv_i: int
    sender: str
    mids: list[str]  # messageIds its completions returned, in attempt order
    status: str
    write: int  # when its record was written (between invoke and ack)
    first: int  # when its first attempt was invoked (failed or not)
    pos: tuple[int, int]  # where its record lands (partition, offset)
    tag: str | None = None  # the content tag its sends carry


def weighted(*pairs: tuple[int, Any]) -> st.SearchStrategy[Any]:
    """``sampled_from`` with integer weights; the first choice is what shrinking aims at."""
    return st.sampled_from([v for w, v in pairs for _ in range(w)])


def plant(calm: bool, *pairs: tuple[int, Any]) -> st.SearchStrategy[Any]:
    """An anomaly's choice: the first (harmless) one in a calm run, else :func:`weighted`."""
    return st.just(pairs[0][1]) if calm else weighted(*pairs)


def conv_name(i: int) -> str:
    return f"u{i}a:u{i}b"


class Timeline:
    """Ops with their times; the file order is (time, creation order).

    ``shift`` moves every time (and ``intended``) at the end, so that a run can
    sit at the upper bound of section 1's time rule."""

    def __init__(self, first_id: int = 1) -> None:
        self.events: list[tuple[int, int, Op]] = []
        self.next_id = first_id - 1
        self.shift = 0

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def emit(self, op: Op) -> None:
        self.events.append((op.time, len(self.events), op))

    def end(self) -> int:
        return max((t for t, _, _ in self.events), default=0)

    def ops(self) -> list[Op]:
        out = []
        for _, _, op in sorted(self.events, key=lambda e: (e[0], e[1])):
            v = op.value
            if "intended" in v:
                v = {**v, "intended": v["intended"] + self.shift}
            out.append(Op(op.id, op.type, op.f, op.process, op.time + self.shift, v))
        return out


# ------------------------------------------------------------------ sends


@dataclass(frozen=True)
class Style:
    """How sends are drawn: ``far`` an extreme offset base (0: none); times in whole
    multiples of ``step`` ms (a coarse step makes ties of ack and invoke); ``fail``
    the weight of a failed attempt (against 4 for ok)."""

    far: int = 0
    step: int = 1
    fail: int = 1


def draw_send(draw: st.DrawFn, tl: Timeline, i: int, start: int, convs: int, style: Style) -> Key:
    """One logical message: 1-3 attempts of one key, its record's planned fate."""
    step = style.step
    conv_i = draw(st.integers(0, convs - 1))
    users = (f"u{conv_i}a", f"u{conv_i}b")
    sender, to = users if draw(st.booleans()) else users[::-1]
    key = f"k{i}"
    intended: float = start - (0.5 if start and draw(weighted((5, False), (1, True))) else 0)
    value: dict[str, Any] = {"key": key, "from": sender, "to": to, "seq": i, "intended": intended}
    shape = draw(weighted((8, "full"), (1, "no-sender"), (1, "no-conversation"), (1, "anonymous")))
    conv: str | None = conv_name(conv_i)
    if shape != "no-conversation":
        value["conversation"] = conv
    else:
        conv = None
    if shape not in ("no-sender", "anonymous"):
        value["sender"] = sender
    if shape == "anonymous":
        del value["from"]  # a key with no sender at all
    if draw(weighted((12, False), (1, True))):
        value["invalid"] = True
    tag = draw(weighted((6, "own"), (1, None), (1, "borrowed")))  # borrowed: key 0's tag
    if tag is not None:
        value["tag"] = {"own": f"t{i}", "borrowed": "t0"}[tag]
    n = draw(st.integers(1, 3))
    t = start
    got: list[tuple[str, int, int]] = []  # (outcome, invoke, done)
    mids: list[str] = []
    pos = (conv_i, i + draw(st.sampled_from([0, style.far])))  # far: an extreme offset
    for j in range(n):
        outcome = draw(weighted((4, "ok"), (style.fail, "fail"), (1, "info"), (1, "pending")))
        v = dict(value)
        if j > 0 and draw(st.booleans()):
            v["retry_of"] = key  # a duplicate-injection resend
        op_id = tl.new_id()
        proc = f"client-{sender}"
        tl.emit(Op(op_id, "invoke", "send", proc, t, v))
        latency = draw(st.integers(0, 4 // step)) * step * MS
        done_at = t + latency
        if outcome != "pending":
            reply = draw_reply(draw, outcome, key, j, pos)
            if reply.get("messageId") is not None:
                mids.append(str(reply["messageId"]))
            tl.emit(Op(op_id, outcome, "send", proc, done_at, reply))
        got.append((outcome, t, done_at))
        concurrent = draw(weighted((5, False), (1, True)))
        wait = draw(weighted((4, 0), (4, 1), (4, 3), (3, 12))) * step * MS  # 12: a slow retry
        t = (t if concurrent or outcome == "pending" else done_at) + wait
    kinds = [o for o, _, _ in got]
    status = "acked" if "ok" in kinds else ("failed" if set(kinds) == {"fail"} else "indet")
    live = [(inv, done) for o, inv, done in got if o != "fail"] or [(got[0][1], got[0][2])]
    oks = [(inv, done) for o, inv, done in got if o == "ok"]
    lo, hi = oks[0] if oks else live[0]
    write = lo + int(draw(st.floats(0, 1)) * (hi - lo))
    return Key(key, conv, conv_i, sender, mids, status, write, start, pos, value.get("tag"))


def draw_reply(
    draw: st.DrawFn, outcome: str, key: str, j: int, pos: tuple[int, int]
) -> dict[str, Any]:
    """A send completion's value: status, messageId, partition/offset, error."""
    reply: dict[str, Any] = {"status": {"ok": 201, "fail": 503, "info": None}[outcome]}
    if outcome == "ok":
        mid = draw(weighted((5, "key"), (1, "fresh"), (1, "none"), (1, "null"), (1, "borrow")))
    else:
        mid = draw(weighted((4, "none"), (1, "key"), (1, "borrow")))
        reply["error"] = "boom"
        if draw(weighted((5, False), (1, True))):
            reply["partition"], reply["offset"] = pos  # where a failed write would have gone
    reply["messageId"] = {
        "key": f"m-{key}",
        "fresh": f"m-{key}-{j}",
        "null": None,
        "borrow": "m-k0",  # another key's id: the owner rule decides
    }.get(mid)
    if mid == "none":
        del reply["messageId"]
    if outcome == "ok":
        where = draw(weighted((3, "answered"), (1, "none"), (1, "null")))
        if where == "answered":
            reply["partition"], reply["offset"] = pos
        elif where == "null":
            reply["partition"] = reply["offset"] = None
    return reply


# ------------------------------------------------------------------ store and reads


def draw_records(
    draw: st.DrawFn,
    keys: list[Key],
    convs: int,
    planted: list[str],
    calm: bool,
    first_sent: dict[str, int],
) -> list[Any]:
    """Store records in write order: each key's copies, then unattributed ghosts.
    Fills ``first_sent``: messageId -> first invoke of its key (any attempt).
    A *keyless* store (the tutorial pipeline's shape) keeps no idempotency key and
    its own messageId for a send that never got one: only the content tag can
    attribute such a record."""
    out: list[tuple[int, StoredRecord]] = []
    keyless = draw(weighted((3, False), (1, True)))
    planted += ["store:keyless"] if keyless else []
    for k in keys:
        if k.status == "acked":
            copies = draw(plant(calm, (6, 1), (1, 0), (1, 2)))
        elif k.status == "indet":
            copies = draw(plant(calm, (2, 0), (1, 1)))
        else:
            copies = draw(plant(calm, (4, 0), (1, 1)))
        if (k.status, copies) in (("acked", 0), ("failed", 1), ("indet", 1)):
            planted.append({"acked": "lost", "failed": "aborted", "indet": "recovered"}[k.status])
        for c in range(copies):
            mid = k.mids[0] if k.mids else (f"s-{k.key}" if keyless else f"m-{k.key}")
            if draw(plant(calm, (5, False), (1, True))):
                mid = f"m2-{k.key}-{c}"
                planted.append("record:other-id")
            rkey = draw(plant(calm, (5, "key"), (1, None), (1, "stranger"), (1, "neighbour")))
            if keyless and (k.tag is not None or not calm):
                rkey = None
            rtag = draw(plant(calm, (5, "own"), (1, None), (1, "stranger")))
            tag = {"own": k.tag, None: None, "stranger": f"tx-{k.key}"}[rtag]
            rconv = draw(plant(calm, (6, "own"), (1, None), (1, "other")))
            conv = {"own": k.conv, None: None, "other": conv_name((k.conv_i + 1) % convs)}[rconv]
            # "earlier": the answer may name a later copy of this record
            where = draw(plant(calm, (5, "true"), (1, "moved"), (1, "earlier"), (1, None)))
            p, o = {
                "true": k.pos,
                "moved": (k.pos[0], k.pos[1] + 100),
                "earlier": (k.pos[0], k.pos[1] - 3),
                None: (None, None),
            }[where]
            known = draw(weighted((5, True), (1, False)))
            rec = StoredRecord(
                message_id=mid,
                key={
                    "key": k.key,
                    None: None,
                    "stranger": f"x-{k.key}",  # never sent: attributed by messageId
                    "neighbour": keys[(keys.index(k) + 1) % len(keys)].key,  # another sent key
                }[rkey],
                conversation=conv,
                sender=k.sender,
                partition=p,
                offset=o,
                stored_at=k.write + MS if known else None,
                tag=tag,
            )
            out.append((k.write + c, rec))
            first_sent[mid] = min(first_sent.get(mid, k.first), k.first)
            planted += [f"record:key-{rkey}", f"record:conv-{rconv}", f"record:pos-{where}"]
            planted += [f"record:tag-{rtag}"]
            planted += ["record:copy"] if c else []
    for g in range(draw(plant(calm, (4, 0), (1, 1), (1, 2)))):
        mid = draw(st.sampled_from([f"ghost-{g}", "ghost-0", "m-k0", "m-k1"]))
        key = draw(st.sampled_from([None, f"never-{g}"]))
        conv = draw(st.sampled_from([None, conv_name(0)]))
        tag = draw(st.sampled_from([None, "t1", "tghost"]))  # t1: a sent key's tag
        # "on-a-key": at a sent key's position, where no later copy can be
        at = draw(weighted((3, "apart"), (1, "on-a-key")))
        gp, go = (9, g) if at == "apart" or not keys else draw(st.sampled_from(keys)).pos
        ghost = StoredRecord(mid, key, conv, None, gp, go, None, tag)
        out.append((draw(st.integers(0, 40)) * MS, ghost))
        planted += ["ghost", f"ghost:{at}"]
    out.sort(key=lambda e: e[0])
    recs = [r for _, r in out]
    if draw(plant(calm, (6, False), (1, True))):
        recs = draw(st.permutations(recs))
        planted.append("store-shuffled")
    return recs


def draw_reads(
    draw: st.DrawFn,
    recs: list[StoredRecord],
    convs: int,
    planted: list[str],
    calm: bool,
    first_sent: dict[str, int],
    ordered: bool = False,
) -> tuple[dict[str, list[str]], dict[str, str], dict[str, list[str | None]]]:
    """API reads per conversation (store order), some failing, with planted read anomalies,
    and the content tag of each read item (``api_tags``; some reads without).
    "first-sent" orders a read by each message's first attempt, failed or not: right by
    the old rule, a real-time violation by section 2's start-time rule."""
    api: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    api_tags: dict[str, list[str | None]] = {}
    if draw(plant(calm, (8, False), (1, True))):
        planted.append("no-api")
        return api, errors, api_tags
    tag_of: dict[str, str | None] = {}
    for r in recs:
        tag_of.setdefault(r.message_id, r.tag)
    names = [conv_name(i) for i in range(convs)]
    for c in names:
        mids: list[str] = []
        for r in recs:
            if r.conversation == c and r.message_id not in mids:
                mids.append(r.message_id)
        mode = draw(plant(calm, (8, "ok"), (1, "error"), (1, "stale-error"), (1, "missing")))
        planted.append(f"read:{mode}")
        if mode == "missing":
            continue
        if mode != "ok":
            errors[c] = "HTTP 503"
            if mode == "error":
                continue
        api[c] = mids
        order = ((2, "swap"), (2, "reverse"), (2, "first-sent"))
        how = draw(
            weighted((2, None), *order)
            if ordered
            else plant(
                calm,
                (6, None),
                *((2, "drop"), (1, "phantom"), (1, "foreign"), (1, "twice")),
                *order,
            )
        )
        if how is None:
            continue
        planted.append(f"read:{how}")
        if how == "drop" and mids:
            del mids[draw(st.integers(0, len(mids) - 1))]
        elif how == "phantom":
            mids.insert(draw(st.integers(0, len(mids))), "phantom")
        elif how == "foreign":
            other = [r.message_id for r in recs if r.conversation not in (c, None)]
            if other:
                mids.insert(draw(st.integers(0, len(mids))), draw(st.sampled_from(other)))
        elif how == "twice" and mids:
            mids.append(draw(st.sampled_from(mids)))
        elif how == "swap" and len(mids) >= 2:
            i = draw(st.integers(0, len(mids) - 2))
            mids[i], mids[i + 1] = mids[i + 1], mids[i]
        elif how == "reverse":
            mids.reverse()
        elif how == "first-sent":
            mids.sort(key=lambda m: first_sent.get(m, 0))
    if draw(plant(calm, (6, False), (1, True))):
        api["nobody:else"] = ["phantom-2", *[r.message_id for r in recs[:1]]]
        planted.append("read:extra-conversation")
    for c, mids in api.items():
        how = draw(weighted((4, "all"), (1, "none"), (1, "some")))
        planted.append(f"read-tags:{how}")
        if how == "none":
            continue
        # a phantom may carry a sent key's tag: the read returned a message the store
        # does not have under that id, yet it was written
        phantom = draw(st.sampled_from([None, "t0", "t1", "tghost"]))
        tags = [tag_of.get(m, phantom) for m in mids]
        if how == "some":
            tags = [t if draw(st.booleans()) else None for t in tags]
        api_tags[c] = tags
    return api, errors, api_tags


# ------------------------------------------------------------------ faults and logs


def draw_faults(
    draw: st.DrawFn, tl: Timeline, end: int, planted: list[str], crash: bool = False
) -> list[int]:
    """Nemesis kill and failpoint faults; returns the failpoint injects' invoke times.
    ``crash``: one or two faults, each a crash window unless one of its parts fails."""
    injects = []
    k = 4 if crash else 1  # how much more likely each part of a crash window is
    for n in range(draw(st.integers(1, 2) if crash else weighted((3, 0), (2, 1), (1, 2)))):
        kind = "failpoint" if crash else draw(weighted((3, "failpoint"), (1, "kill")))
        late = draw(weighted((3, False), (k, True)))  # after every send: redeliveries before
        at = end + MS if late else draw(st.integers(0, max(end, 1) // MS)) * MS
        fid = f"f{n}"
        value: dict[str, Any] = {"fault": fid, "kind": kind, "target": "consumer-1"}
        if kind == "failpoint":
            name = draw(weighted((4 * k, CRASH), (1, "consumer.before_store")))
            action = draw(weighted((4 * k, "crash"), (1, "delay")))
            value["params"] = {"name": name, "action": action}
        inj = tl.new_id()
        tl.emit(Op(inj, "invoke", "inject", "nemesis", at, value))
        outcome = draw(weighted((5 * k, "ok"), (1, "info"), (1, "fail"), (1, None)))
        if outcome is not None:
            tl.emit(Op(inj, outcome, "inject", "nemesis", at + MS, {**value, "effective": True}))
        injects.append(at)
        if draw(weighted((5 * k, True), (1, False))):
            heal = tl.new_id()
            hv = {"fault": fid, "kind": kind, "target": "consumer-1"}
            hat = at + draw(st.integers(1, 20)) * MS
            tl.emit(Op(heal, "invoke", "heal", "nemesis", hat, hv))
            crashed = [
                draw(weighted((4, True), (1, False))) for _ in range(draw(st.integers(1, 2)))
            ]
            nodes = {f"consumer-{i}": {"crashed": c} for i, c in enumerate(crashed)}
            htype = draw(weighted((5 * k, "ok"), (1, "info"), (1, None)))
            done = {**hv, "evidence": {"nodes": nodes, "effective": any(crashed)}}
            if htype is not None:
                tl.emit(Op(heal, htype, "heal", "nemesis", hat + MS, done))
        planted.append(f"fault:{kind}:{outcome}")
    return injects


def draw_delivery(
    draw: st.DrawFn,
    recs: list[StoredRecord],
    injects: list[int],
    planted: list[str],
    crash: bool = False,
) -> list[DeliveryEvent]:
    """Consumers' delivery logs: one event per placed record, redeliveries around faults."""
    events = []
    for r in recs:
        if r.partition is not None and r.offset is not None:
            consumer = draw(st.sampled_from(["c1", "c2"]))
            events.append(
                DeliveryEvent(consumer, r.partition, r.offset, r.message_id, r.stored_at, "stored")
            )
    if not events and not draw(st.booleans()):
        return events
    for _ in range(draw(st.integers(0, 3) if crash else weighted((3, 0), (2, 1), (1, 2)))):
        when = draw(weighted((2, "after"), (3 if crash else 1, "before"), (1, None)))
        t0 = draw(st.sampled_from(injects)) if injects else 0
        t = {"after": t0 + MS, "before": max(t0 - MS, 0), None: None}[when]
        # a redelivery before the fault repeats a record handled before it too
        earlier = [e for e in events if e.time is not None and t is not None and e.time <= t]
        pool = earlier if when == "before" and earlier else events
        base = draw(st.sampled_from(pool)) if pool else None
        p, o = (base.partition, base.offset) if base else (7, draw(st.integers(0, 3)))
        outcome = draw(weighted((3, "stored"), (2, "duplicate"), (1, "dlq"), (1, "failed")))
        events.append(DeliveryEvent(draw(st.sampled_from(["c1", "c2"])), p, o, None, t, outcome))
        planted.append(f"redelivery:{when}:{outcome}")
    return events


def draw_dead_letters(draw: st.DrawFn, planted: list[str], calm: bool) -> dict[str, Any]:
    """``dead_letters`` for :class:`FinalReads`, when this harness version has them."""
    cls = getattr(reads_module, "DeadLetter", None)
    if cls is None:
        return {}
    n = draw(plant(calm, (4, 0), (1, 1), (1, 2), (1, None)))
    if n is None:
        return {"dead_letters": None}
    planted.extend(["dead-letter"] * n)
    return {"dead_letters": [cls(5, i, f"dl-{i}", "invalid payload") for i in range(n)]}


# ------------------------------------------------------------------ a whole run


EXTREMES = (2**62, 2**63 - 8, 2**63, 2**64)  # op ids and offsets beyond int64, and beyond u64


@st.composite
def runs(
    draw: st.DrawFn, extremes: bool = False, focus: str | None = None
) -> tuple[list[Op], FinalReads, list[str]]:
    """A well-formed run: ops in file order, final reads, what was planted. With
    ``extremes``, op ids and offsets may start at 2**62 .. 2**64 (JSON integers all).
    A ``focus`` plants no anomaly but where it aims: "order" (section 4) has one
    conversation, 2-8 messages and a read in planted orders; "crash" (section 5) has
    crash windows and redeliveries around them."""
    ordered, crash = focus == "order", focus == "crash"
    planted: list[str] = []
    far = draw(st.sampled_from((0, *EXTREMES))) if extremes else 0
    planted += [f"extreme:{far}"] if far else []
    tl = Timeline(first_id=draw(st.sampled_from([1, far]) if far else weighted((3, 1), (1, 0))))
    convs = 1 if ordered else draw(st.integers(1, 3))
    calm = focus is not None or draw(weighted((3, False), (1, True)))  # plants no anomaly
    planted += ["calm"] if calm else []
    keys: list[Key] = []
    style = Style(far, 2, 3) if ordered else Style(far)
    start = 0
    for i in range(draw(st.integers(2 if ordered else 0, 8))):
        start += draw(weighted((2, 1), (1, 0), (1, 3), (1, 6))) * style.step * MS  # 0: together
        keys.append(draw_send(draw, tl, i, start, convs, style))
    injects = draw_faults(draw, tl, tl.end(), planted, crash)
    if draw(weighted((12, False), (1, True))):
        tl.shift = MAX_TIME - tl.end()  # the last op exactly at the bound: still well-formed
        injects = [t + tl.shift for t in injects]
        planted.append("times-at-the-bound")
    first_sent: dict[str, int] = {}
    recs = draw_records(draw, keys, convs, planted, calm, first_sent)
    api, errors, api_tags = draw_reads(draw, recs, convs, planted, calm, first_sent, ordered)
    reads = FinalReads(
        store=recs,
        api=api,
        api_errors=errors,
        api_tags=api_tags,
        delivery=draw_delivery(draw, recs, injects, planted, crash),
        drained=draw(weighted((5, True), (1, False))),
        **draw_dead_letters(draw, planted, calm),
    )
    return tl.ops(), reads, planted


def history_lines(ops: list[Op]) -> list[bytes]:
    """The file's lines (header first), as :class:`wiber_harness.history.HistoryWriter`
    writes them: ``Op.to_json`` per op (the standard library's JSON for an integer
    beyond 64 bits, which orjson cannot write)."""
    out = [HEADER]
    for op in ops:
        try:
            out.append(op.to_json())
        except orjson.JSONEncodeError:
            d = {"id": op.id, "type": op.type, "f": op.f, "process": op.process}
            out.append(json.dumps({**d, "time": op.time, "value": op.value}).encode())
    return out


@st.composite
def cases(
    draw: st.DrawFn,
    mutations: tuple[str, ...] | None = None,
    extremes: bool = False,
    focus: str | None = None,
) -> Case:
    """A run (see :func:`runs`), then maybe one mutation of its file (see :data:`MUTATIONS`)."""
    ops, reads, planted = draw(runs(extremes, focus))
    lines = history_lines(ops)
    names = mutations if mutations is not None else MUTATION_WEIGHTS
    name = draw(st.sampled_from(names))
    case = MUTATIONS[name](draw, lines)
    case.reads, case.planted = reads, [*planted, f"mutation:{name}"]
    for p in sorted(set(case.planted)):
        event(p)
    return case


__all__ = ["Case", "cases", "history_lines", "runs"]
