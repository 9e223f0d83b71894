"""The scores of a window as bytes, from the score task to the load task through ``banking_staging``.

:func:`pack_scores` writes a JSON header, the arrays, then every explanation; :func:`unpack_scores`
reads them back without running code, and refuses what another version of the pipeline wrote.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import asdict

import numpy as np

from banking.model import LoadError
from banking.rules.engine import Scores, ScoreSummary

_STAGE_FORMAT = 3  # what pack_scores() writes: the scores of a batch (1 held COPY text, 2 JSON explanations)


def pack_scores(scores: Scores) -> bytes:
    """The scores as compressed bytes: a JSON header, the arrays, then every explanation (row by
    row, in bit order) joined by NUL, which no PostgreSQL text holds. No code runs when reading them."""
    hit_rows = sorted(scores.explanations)
    texts = [text for i in hit_rows for text in scores.explanations[i]]
    blob = "\0".join(texts).encode()
    if blob.count(0) != max(len(texts) - 1, 0):
        raise LoadError("a rule explanation contains a NUL character, which PostgreSQL text cannot hold")
    header = json.dumps(
        {
            "format": _STAGE_FORMAT,
            "rows": len(scores.decision),
            "rule_ids": list(scores.rule_ids),
            "rule_scores": list(scores.rule_scores),
            "hit_rows": len(hit_rows),
            "texts": len(texts),
            "summary": asdict(scores.summary),
        },
        ensure_ascii=False,
    ).encode()
    arrays = (
        scores.risk_score.astype("<i2").tobytes()
        + scores.decision.astype("<i1").tobytes()
        + scores.hit_mask.astype("<i8").tobytes()
        + np.asarray(hit_rows, dtype="<i4").tobytes()
        + np.array([len(scores.explanations[i]) for i in hit_rows], dtype="<i1").tobytes()
    )
    return zlib.compress(struct.pack("<I", len(header)) + header + arrays + blob, 1)


def unpack_scores(packed: bytes) -> Scores:
    """The scores :func:`pack_scores` packed; a LoadError for anything else."""
    try:
        data = zlib.decompress(packed)
        (size,) = struct.unpack_from("<I", data)
        header = json.loads(data[4 : 4 + size])
    except (zlib.error, struct.error, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != _STAGE_FORMAT:
        raise LoadError(
            "the staged scores were written by another version of the pipeline: clear the run's score "
            "and load tasks so that both run with the same code"
        )
    n, hits, offset = header["rows"], header["hit_rows"], 4 + size
    risk = np.frombuffer(data, "<i2", n, offset).astype(np.int64)
    decision = np.frombuffer(data, "<i1", n, offset + 2 * n).astype(np.int8)
    mask = np.frombuffer(data, "<i8", n, offset + 3 * n).astype(np.int64)
    offset += 11 * n
    hit_rows = np.frombuffer(data, "<i4", hits, offset).tolist()
    counts = np.frombuffer(data, "<i1", hits, offset + 4 * hits)
    texts = data[offset + 5 * hits :].decode().split("\0") if header["texts"] else []
    if len(texts) != header["texts"] or int(counts.sum()) != len(texts):
        raise LoadError("the staged scores are damaged: their explanations do not match their rows")
    ends = np.cumsum(counts).tolist()
    starts = [0, *ends[:-1]]
    return Scores(
        rule_ids=tuple(header["rule_ids"]),
        rule_scores=tuple(header["rule_scores"]),
        risk_score=risk,
        decision=decision,
        hit_mask=mask,
        explanations={i: tuple(texts[a:b]) for i, a, b in zip(hit_rows, starts, ends, strict=True)},
        summary=ScoreSummary(**header["summary"]),
    )
