"""bert / SQuAD: the tokenizer, the 384-token windows, the answer decoding and
the SQuAD v1.1 metric, and bert-99 / bert-99.9 end to end on the stand-in."""

import json
import re

import numpy as np
import pytest

from harness_test_support import finish, mllog, run_python, start_harness, test_folder
from mlperf_harness.models.bert import accuracy as acc
from mlperf_harness.models.bert import dataset as squad
from mlperf_harness.models.bert.wordpiece import WordPieceTokenizer, basic_tokenize
from mlperf_harness.errors import CountError, HarnessError

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello", "world",
         "steve", "smith", "'", "s", ",", ".", "!", "(", ")", "cafe", "the", "a", "x", "##x"]


@pytest.fixture
def tokenizer():
    return WordPieceTokenizer({t: i for i, t in enumerate(VOCAB)})


def test_basic_tokenize():
    assert basic_tokenize("Hello, WORLD!") == ["hello", ",", "world", "!"]
    assert basic_tokenize("Café\u00a0(naïve)\tx") == ["cafe", "(", "naive", ")", "x"]
    assert basic_tokenize("a\u4e2d\u6587b") == ["a", "\u4e2d", "\u6587", "b"]
    assert basic_tokenize("x\x00y\u200bz [SEP]") == ["xyz", "[SEP]"]  # format chars (Cf) dropped
    assert basic_tokenize("1,000.5$") == ["1", ",", "000", ".", "5", "$"]


def test_wordpiece(tokenizer):
    assert tokenizer.tokenize("Unaffable!") == ["un", "##aff", "##able", "!"]
    assert tokenizer.tokenize("xxx unable unhello") == ["x", "##x", "##x", "un", "##able", "[UNK]"]
    assert tokenizer.tokenize("x" * 101) == ["[UNK]"]
    assert tokenizer.tokenize("Steve Smith's") == ["steve", "smith", "'", "s"]
    assert tokenizer.ids(["hello", "nope"]) == [8, 1]


def test_split_context():
    assert squad.split_context(" a  b\u202fc\nd ") == ["a", "b", "c", "d"]


def test_windows_and_max_context(tokenizer):
    words = ["hello"] * 500
    example = squad.Example("q1", "steve smith", words, ["hello"])
    features, inputs = squad.make_features([example], tokenizer)
    # 384 - 2 query tokens - 3 = 379 context tokens per window, windows every 128 tokens.
    assert len(features) == 2 and inputs.shape == (2, 3, 384)
    first, second = features
    assert first.tokens[:4] == ["[CLS]", "steve", "smith", "[SEP]"] and first.tokens[-1] == "[SEP]"
    assert len(first.tokens) == 384 and len(second.tokens) == 2 + 3 + (500 - 128)
    assert first.token_to_orig[4] == 0 and second.token_to_orig[4] == 128
    ids, mask, segments = inputs[1]
    assert ids[0] == 2 and ids[4] == 8 and mask.sum() == len(second.tokens)
    assert list(segments[:5]) == [0, 0, 0, 0, 1] and segments[len(second.tokens)] == 0
    # Words 128..378 sit in both windows; 200 has more context on its short side in the
    # first (min(200, 178) vs min(72, 299)), 300 in the second (min(300, 78) vs min(172, 199)).
    assert first.max_context[4 + 200] is True and second.max_context[4 + 200 - 128] is False
    assert first.max_context[4 + 300] is False and second.max_context[4 + 300 - 128] is True
    assert first.max_context[4 + 10] is True


def test_final_text(tokenizer):
    assert acc.final_text(tokenizer, "steve smith", "Steve Smith's") == "Steve Smith"
    assert acc.final_text(tokenizer, "hello", "(hello),") == "hello"
    assert acc.final_text(tokenizer, "nothing", "Hello") == "Hello"
    # WordPieces of the original break the alignment: the original words come back.
    assert acc.final_text(tokenizer, "unaffable", "Unaffable!") == "Unaffable!"


def test_metric():
    assert acc.normalize_answer("The  Cat, a hat!") == "cat hat"
    assert acc.exact_match_score("the Cat.", "cat") == 1.0
    assert acc.f1_score("big red dog", "red dog") == pytest.approx(0.8)
    assert acc.f1_score("a", "the") == 0.0
    assert json.loads(acc.SquadResult(75.0, 80.5, 4).line()) == {"exact_match": 75.0, "f1": 80.5}


def test_decode_errors(tmp_path, bert_standin):
    dataset = squad.SquadDataset.open(bert_standin["dataset_path"])
    log = tmp_path / "log.json"
    log.write_text(json.dumps([{"seq_id": 0, "qsl_idx": 0, "data": "00" * 12}]))
    with pytest.raises(HarnessError, match="expected float32 \\[384, 2\\]"):
        acc.score(log, dataset)
    log.write_text(json.dumps([{"seq_id": 0, "qsl_idx": 10 ** 6, "data": ""}]))
    with pytest.raises(HarnessError, match="outside the"):
        acc.score(log, dataset)


def test_dataset_counts_and_errors(bert_standin, tmp_path):
    dataset = squad.SquadDataset.open(bert_standin["dataset_path"])
    assert len(dataset.examples) == 60 and len(dataset) > 60  # long contexts: several windows
    assert dataset.sample_spec == [((384,), np.int64)] * 3
    ids, mask, segments = dataset.load(0)
    assert ids.dtype == np.int64 and ids.shape == (384,)
    with pytest.raises(CountError, match=f"--count 100000 exceeds the {len(dataset)} features"):
        squad.SquadDataset.open(bert_standin["dataset_path"], 100000)
    with pytest.raises(HarnessError, match="no vocab.txt"):
        squad.SquadDataset.open(tmp_path) if (tmp_path / "dev-v1.1.json").write_text(
            (bert_standin["root"] / "dataset" / "dev-v1.1.json").read_text()) else None
    # A features cache: written once, then read back identically.
    cache = tmp_path / "cache"
    a = squad.SquadDataset.open(bert_standin["dataset_path"], cache_dir=str(cache))
    b = squad.SquadDataset.open(bert_standin["dataset_path"], cache_dir=str(cache))
    assert len(list(cache.glob("squad-*.npz"))) == 1
    assert np.array_equal(a.inputs, b.inputs) and a.features == b.features


def test_expected_scores_from_logits(bert_standin):
    """The pipeline without LoadGen: the model's logits for every window decode to the
    stand-in's known exact match and F1."""
    ort = pytest.importorskip("onnxruntime")
    dataset = squad.SquadDataset.open(bert_standin["dataset_path"])
    session = ort.InferenceSession(bert_standin["model_path"], providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_ids", "input_mask", "segment_ids"]
    assert [o.name for o in session.get_outputs()] == ["output_start_logits", "output_end_logits"]
    start, end = session.run(None, {n: dataset.inputs[:, k] for k, n in
                                    enumerate(["input_ids", "input_mask", "segment_ids"])})
    assert start.shape == end.shape == (len(dataset), 384) and start.dtype == np.float32
    logits = np.stack([start, end], axis=-1)
    predictions = acc.predict(dataset, dict(enumerate(logits)))
    em, f1 = acc.score_predictions(dataset.examples, predictions)
    assert em == pytest.approx(bert_standin["exact_match"]) and em == 75.0
    assert f1 == pytest.approx(bert_standin["f1"]) and em < f1 < 100


# ---- end to end --------------------------------------------------------------------------------

RUNS = {
    # model, backend, scenarios
    "ort": ("bert-99", "onnxruntime", ("Offline", "Server", "SingleStream", "MultiStream")),
    "torch": ("bert-99.9", "pytorch", ("Offline", "SingleStream")),
}


@pytest.fixture(scope="module")
def bert_runs(bert_standin, tmp_path_factory):
    started = {}
    for name, (model, backend, scenarios) in RUNS.items():
        if backend not in bert_standin["models"]:
            continue
        out = tmp_path_factory.mktemp(f"bert-{name}")
        args = ["--model", model, "--backend", backend, "--model-path",
                bert_standin["models"][backend], "--dataset-path", bert_standin["dataset_path"],
                "--output-dir", out, "--system", "box", "--scenario", ",".join(scenarios),
                "--mode", "both", "--test-query-count", "40", "--max-batchsize", "16"]
        started[name] = (start_harness(args, cwd=out), out)
    return {name: (finish(proc), out) for name, (proc, out) in started.items()}


@pytest.mark.parametrize("name", list(RUNS))
def test_bert_end_to_end(bert_runs, bert_standin, name):
    if name not in bert_runs:
        pytest.skip("torch is not installed")
    model, backend, scenarios = RUNS[name]
    proc, out = bert_runs[name]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    expected = {"exact_match": bert_standin["exact_match"], "f1": bert_standin["f1"]}
    for scenario in scenarios:
        acc_dir = test_folder(out, "box", model, scenario, "accuracy")
        text = (acc_dir / "accuracy.txt").read_text()
        assert re.fullmatch(r'\{"exact_match": [\d.]+, "f1": [\d.]+\}\n', text), text
        assert json.loads(text) == pytest.approx(expected)
        assert f"{scenario} accuracy: {text.strip()}" in proc.stdout
        entries = json.loads((acc_dir / "mlperf_log_accuracy.json").read_text())
        assert all(len(e["data"]) == 384 * 2 * 4 * 2 for e in entries)  # float32 [384, 2], hex
        perf = mllog(test_folder(out, "box", model, scenario, "performance") / "mlperf_log_detail.txt")
        assert perf["effective_scenario"] == scenario
        assert perf["effective_test_mode"] == "PerformanceOnly"
        conf = (out / "box" / model / scenario / "user.conf").read_text()
        assert f"bert.{scenario}.min_query_count = 40" in conf
        measurements = json.loads((out / "box" / model / scenario / "measurements.json").read_text())
        assert measurements["input_data_types"] == "int64"
        assert measurements["starting_weights_filename"] == {"onnxruntime": "model.onnx",
                                                              "pytorch": "model.pytorch"}[backend]
    assert f"{scenarios[0]} performance: " in proc.stdout


def test_accuracy_script_reproduces_accuracy_txt(bert_runs, bert_standin, tmp_path):
    proc, out = bert_runs["ort"]
    assert proc.returncode == 0
    log = test_folder(out, "box", "bert-99", "Offline", "accuracy") / "mlperf_log_accuracy.json"
    done = run_python(["-m", "mlperf_harness.models.bert.accuracy", "--log", log,
                       "--dataset-path", bert_standin["dataset_path"],
                       "--output", tmp_path / "acc.txt",
                       "--predictions", tmp_path / "predictions.json"])
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "acc.txt").read_text() == (log.parent / "accuracy.txt").read_text()
    predictions = json.loads((tmp_path / "predictions.json").read_text())
    assert len(predictions) == 60 and all(predictions.values())
