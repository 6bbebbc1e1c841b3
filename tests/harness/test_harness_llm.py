"""The generative models' harness pieces without torch: the token-streaming SUT (first token to
FirstTokenComplete, then the whole answer with n_tokens), the ROUGE scoring in the checker's format,
the token metrics of LoadGen's summary, and the gptj/llama2 dataset readers."""

import ctypes
import json
import threading
from collections import namedtuple

import numpy as np
import pytest

from mlperf_harness.contract import parse_summary
from mlperf_harness.errors import HarnessError
from mlperf_harness.llm.scoring import score_log
from mlperf_harness.llm.sut import TokenSUT
from mlperf_harness.models import get_model
from mlperf_harness.qsl import SampleLibrary
from mlperf_harness.report import performance_line

Sample = namedtuple("Sample", "id index")


class Prompts:
    def __len__(self):
        return 6

    def load(self, index):
        return np.arange(index + 1, dtype=np.int64)


class Calls:
    def __init__(self, dtype):
        self.dtype, self.lock, self.first, self.done = dtype, threading.Lock(), [], {}
        self.finished = threading.Event()
        self.order = []

    def first_token(self, responses):
        with self.lock:
            for r in responses:
                self.first.append((r.id, np.frombuffer(ctypes.string_at(r.data, r.size), self.dtype).tolist()))
                self.order.append(("first", r.id))

    def complete(self, responses):
        with self.lock:
            for r in responses:
                self.done[r.id] = (np.frombuffer(ctypes.string_at(r.data, r.size), self.dtype).tolist(), r.n_tokens)
                self.order.append(("done", r.id))
            if len(self.done) >= 6:
                self.finished.set()


def fake_generate(batches):
    def generate(prompts, on_first=None):
        batches.append(len(prompts))
        outputs = [np.array([100 + len(p), 7, 2], dtype=np.int64) for p in prompts]
        if on_first is not None:
            on_first(int(outputs[0][0]))
        return outputs
    return generate


@pytest.mark.parametrize("scenario, stream, dtype, batches", [
    ("Server", True, "int32", [1] * 6),  # llama2 Server: FirstTokenComplete per sample
    ("Offline", False, "int32", [4, 2]),  # llama2 Offline: batches, no streaming
    ("Server", False, "int64", [1] * 6),  # gptj Server: LoadGen infers token latencies
    ("SingleStream", False, "int64", [1] * 6),
])
def test_token_sut_responses(scenario, stream, dtype, batches):
    qsl = SampleLibrary(Prompts(), perf_count=6, loader_threads=1)
    qsl.load_samples(list(range(6)))
    calls, seen = Calls(dtype), []
    sut = TokenSUT(scenario, fake_generate(seen), qsl, dtype, max_batchsize=4, stream_first_token=stream,
                   complete=calls.complete, first_token=calls.first_token)
    samples = [Sample(10 + i, i) for i in range(6)]
    if scenario == "Offline":
        sut.issue_queries(samples)
    else:
        for sample in samples:
            sut.issue_queries([sample])
    assert calls.finished.wait(10)
    sut.destroy()
    assert seen == batches
    assert calls.done == {10 + i: ([101 + i, 7, 2], 3) for i in range(6)}
    if stream:
        assert sorted(calls.first) == [(10 + i, [101 + i]) for i in range(6)]
        for i in range(6):  # the first token is reported before its sample completes
            assert calls.order.index(("first", 10 + i)) < calls.order.index(("done", 10 + i))
    else:
        assert calls.first == []
    assert sut.stats_line().startswith("sut: 6 samples, 18 tokens generated")


class WordTokenizer:
    words = ["", "", "<eos>", "the", "cat", "sat", "on", "mat"]

    def batch_decode(self, batch, skip_special_tokens=True):
        return [" ".join(self.words[int(i)] for i in ids if int(i) != 2) for ids in batch]


class Targets:
    def __init__(self, targets):
        self.targets = targets

    def tokenizer(self):
        return WordTokenizer()


def write_log(path, entries, dtype):
    path.write_text(json.dumps([{"seq_id": n, "qsl_idx": i, "data": np.asarray(ids, dtype).tobytes().hex(), "size": 0}
                                for n, (i, ids) in enumerate(entries)]))
    return path


def test_scoring_in_the_checkers_format(tmp_path):
    dataset = Targets(["the cat sat", "the cat sat on the mat"])
    log = write_log(tmp_path / "log.json", [(0, [3, 4, 5, 2]), (1, [3, 4, 5, 2]), (0, [7])], "int32")
    result = score_log(log, dataset, "int32", expect_total=2)
    values = result.values
    assert values["rouge1"] == round(100 * (1.0 + 2 * 0.5 * 1.0 / 1.5) / 2, 4) == 83.3333
    assert values["gen_len"] == 2 * len("the cat sat") and values["gen_num"] == 2
    assert values["gen_tok_len"] == 8 and values["tokens_per_sample"] == 4.0
    line = result.line()
    assert line.startswith("{'rouge1': 83.3333, 'rouge2': ") and "'tokens_per_sample': 4.0}" in line
    with pytest.raises(HarnessError, match="covers 2 samples, expected 3"):
        score_log(log, dataset, "int32", expect_total=3)
    gptj = score_log(write_log(tmp_path / "g.json", [(0, [3, 4, 5])], "int64"), dataset, "int64",
                     tokens_per_sample=False)
    assert gptj.values["rouge1"] == 100.0 and "tokens_per_sample" not in gptj.values


SERVER_SUMMARY = """Scenario : Server
Mode     : PerformanceOnly
Completed samples per second    : 0.35
Completed tokens per second: 5.47
Result is : INVALID
99.00 percentile latency (ns)   : 8548969598
99.00 percentile first token latency (ns)   : 5420400752
99.00 percentile time to output token (ns)   : 204441909
ttft_latency (ns): 2000000000
tpot_latency (ns): 200000000
"""


def test_token_metrics_from_the_summary():
    summary = parse_summary(SERVER_SUMMARY)
    assert summary.tokens_per_second == 5.47 and summary.ttft_limit_ns == 2_000_000_000
    assert performance_line("Server", summary) == (
        "Server performance: 0.3 samples/s, 5.5 tokens/s, TTFT p99 5420.4 ms (limit 2000 ms), "
        "TPOT p99 204.4 ms (limit 200 ms), result INVALID")
    offline = parse_summary("Scenario : Offline\nSamples per second: 2.5\nTokens per second: 30.25\nResult is : VALID\n")
    assert performance_line("Offline", offline) == "Offline performance: 2.5 samples/s, 30.2 tokens/s, result VALID"


def test_llm_models_and_their_rules():
    gptj, llama = get_model("gptj-99"), get_model("llama2-70b-99.9")
    assert gptj.loadgen_key == "gptj" and gptj.response_dtype == "int64"
    assert gptj.code.load("llm").default_beams == 4 and gptj.scenarios == ("Offline", "Server", "SingleStream")
    rules = llama.code.load("llm")
    assert llama.response_dtype == "int32" and rules.pad_to == 1024 and rules.stream_first_token
    assert llama.scenarios == ("Offline", "Server")


def test_gptj_dataset_prompt(tmp_path):
    from mlperf_harness.models.gptj.dataset import CnnDailyMailDataset

    (tmp_path / "cnn_eval.json").write_text(json.dumps([{"instruction": "Summarize:", "input": "A B.", "output": "a"}]))
    data = CnnDailyMailDataset.open(tmp_path)
    assert data.prompts[0].endswith("### Instruction:\nSummarize:\n\n### Input:\nA B.\n\n### Response:")
    with pytest.raises(HarnessError, match="--count 2 exceeds the 1 samples"):
        CnnDailyMailDataset.open(tmp_path, 2)
    (tmp_path / "cnn_eval.json").write_text("[{}]")
    with pytest.raises(HarnessError, match="expected a list of"):
        CnnDailyMailDataset.open(tmp_path)
