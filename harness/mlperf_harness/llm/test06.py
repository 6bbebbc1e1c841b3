"""MLPerf's TEST06 for the LLMs (our implementation of mlcommons/inference compliance/TEST06): a
performance run with the reference's audit.config (100 queries, each logged to the accuracy log with
LoadGen's ``token_count`` and, outside Offline, the streamed first token ``token_data``), then three
checks of that log:

- first token (not in Offline): each response's first token equals the token reported earlier
  through ``lg.FirstTokenComplete``;
- EOS: no response ends with more than one end-of-sequence token (padding passed off as output);
- sample length: each response's ``token_count`` (the SUT's ``n_tokens``) equals its length.

``verify_accuracy.txt`` holds the reference's lines, which the submission checker reads
("First token check pass: True|Skipped", "EOS check pass: True", "Sample length check pass: True"),
then each failure's first offending sample. The log moves to TEST06/accuracy/, as the reference's
run_verification.py copies it there. Standard library + numpy; importable on Python 3.10."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional


# compliance/TEST06/audit.config (mode 2 = performance; equal-issue mode off)
AUDIT_LINES = ("*.*.mode = 2", "*.*.accuracy_log_rng_seed = 720381539243781796",
               "*.*.accuracy_log_sampling_target = 100", "*.*.min_query_count = 100",
               "*.*.min_duration = 0", "*.*.sample_concatenate_permutation = 0")
DEFAULT_EOS = 2  # the reference script's default (Llama's end-of-sequence id)
COMPLETE, FAILED = "TEST06 verification complete", "TEST06 verification failed"


def eos_token_id(model_path: Optional[str]) -> int:
    """The checkpoint's end-of-sequence id (its config.json), else the reference's default 2."""
    try:
        with open(os.path.join(model_path or "", "config.json"), encoding="utf-8") as handle:
            value = json.load(handle).get("eos_token_id")
    except (OSError, ValueError, AttributeError):
        return DEFAULT_EOS
    value = value[0] if isinstance(value, list) and value else value
    return value if isinstance(value, int) else DEFAULT_EOS


@dataclass
class Verdict:
    samples: int = 0
    first_token: Optional[bool] = None  # None: skipped (Offline reports no first token)
    eos: bool = True
    length: bool = True
    problems: List[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.samples > 0 and self.first_token is not False and self.eos and self.length

    def text(self) -> str:
        first = "Skipped" if self.first_token is None else self.first_token
        lines = [f"First token check pass: {first}", f"EOS check pass: {self.eos}",
                 f"Sample length check pass: {self.length}", f"samples checked = {self.samples}"]
        lines += self.problems
        return "\n".join(lines + [COMPLETE if self.passed else FAILED]) + "\n"


def _tokens(hex_text: str, dtype) -> "object":
    import numpy as np

    raw = bytes.fromhex(hex_text)
    return np.frombuffer(raw[: len(raw) - len(raw) % np.dtype(dtype).itemsize], dtype=dtype)


def verify(log_path: Path, scenario: str, dtype: str, eos: int = DEFAULT_EOS) -> Verdict:
    """The three checks over a TEST06 run's mlperf_log_accuracy.json."""
    from mlperf_harness.compliance import load_entries

    entries = load_entries(Path(log_path))
    verdict = Verdict(samples=len(entries), first_token=None if scenario == "Offline" else True)
    if not entries:
        verdict.problems.append("no responses logged")

    def fail(check: str, entry: dict, why: str) -> None:
        setattr(verdict, check, False)
        if not any(p.startswith(f"{check}:") for p in verdict.problems):  # the first offender of each check
            verdict.problems.append(f"{check}: qsl_idx {entry.get('qsl_idx')} (seq_id {entry.get('seq_id')}) {why}")

    for entry in entries:
        data = _tokens(entry.get("data", ""), dtype)
        trailing = 0
        for token in data[::-1]:
            if token != eos:
                break
            trailing += 1
        if trailing >= 2:
            fail("eos", entry, f"ends with {trailing} end-of-sequence tokens ({eos})")
        if "token_count" not in entry:
            fail("length", entry, "has no token_count (the run did not use LoadGen's token latencies)")
        elif int(entry["token_count"]) != len(data):
            fail("length", entry, f"has {len(data)} tokens but reported n_tokens {entry['token_count']}")
        if verdict.first_token is not None:
            if "token_data" not in entry:
                fail("first_token", entry, "has no streamed first token (token_data)")
            else:
                first = _tokens(entry["token_data"], dtype)
                if not len(first) or not len(data) or first[0] != data[0]:
                    fail("first_token", entry, f"streamed first token {first[:1].tolist()} but answered "
                         f"{data[:1].tolist()}")
    return verdict
