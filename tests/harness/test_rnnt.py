"""rnnt: the LibriSpeech manifest layout, the spectrogram and greedy decoding, the word-level WER, and
the stand-in's exact WER (0, and one swapped word) through the harness in every scenario it runs."""

import json

import numpy as np
import pytest

from harness_test_support import run_harness, run_python, standin_args
from mlperf_harness.errors import HarnessError
from mlperf_harness.models import rnnt
from mlperf_harness.models.rnnt import accuracy, dataset

WER_0 = "Word Error Rate: 0.0%, accuracy=100.0%"


def test_levenshtein_and_normalisation():
    assert accuracy.levenshtein("a b c".split(), "a x c d".split()) == 2
    assert accuracy.levenshtein([], "a b".split()) == 2
    assert dataset.normalize("  IT'S  a Test,  (DONE)! 42") == "it's a test done"


def test_greedy_collapses_repeats_and_drops_blanks():
    frames = [rnnt.BLANK, 1, 1, rnnt.BLANK, 1, 0, 0, 2, rnnt.BLANK]
    logits = np.eye(rnnt.BLANK + 1, dtype=np.float32)[frames]
    ids = rnnt.greedy(logits)
    assert ids.dtype == np.int64 and ids.tolist() == [1, 1, 0, 2]


def test_spectrogram_peaks_at_the_tone():
    t = np.arange(16000) / 16000
    features = rnnt.spectrogram(np.sin(2 * np.pi * 1000.0 * t).astype(np.float32))
    assert features.shape == (1, 101, 257) and features.dtype == np.float32
    assert (np.argmax(features[0, 5:-5], axis=1) == 32).all()  # 1000 Hz = bin 32 of 512 at 16 kHz


def test_layout_and_errors(rnnt_standin, tmp_path):
    data = dataset.LibriSpeechDataset.open(rnnt_standin["dataset_path"])
    assert len(data) == 8 and data.transcripts[2] == "it's a jolly good hex"
    wave = data.load(0)
    assert wave.dtype == np.float32 and 0.49 < np.abs(wave).max() <= 0.5
    with pytest.raises(dataset.DatasetCountError):
        dataset.LibriSpeechDataset.open(rnnt_standin["dataset_path"], count=9)
    with pytest.raises(HarnessError, match="dev-clean-wav.json: not found"):
        dataset.LibriSpeechDataset.open(tmp_path)
    manifest = json.loads((rnnt_standin["root"] / "dataset" / dataset.MANIFEST).read_text())
    manifest[0]["original_duration"] = 15.5  # dropped, as the reference's max_duration
    (tmp_path / dataset.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(HarnessError, match=r"7 wav file\(s\) named in .* are missing"):
        dataset.LibriSpeechDataset.open(tmp_path)


def _args(info, out, *extra):
    return standin_args("rnnt", info, "pytorch", out, *extra)


def test_standin_wer_0_every_scenario(rnnt_standin, model_spec_env, tmp_path):
    assert rnnt_standin["line"] == WER_0
    scenarios = ("SingleStream", "Offline", "Server")
    proc = run_harness(_args(rnnt_standin, tmp_path / "o", "--scenario", ",".join(scenarios), "--mode",
                             "accuracy"), cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 0, proc.stderr
    for scenario in scenarios:
        assert f"{scenario} accuracy: {WER_0}" in proc.stdout.splitlines()
        acc = tmp_path / "o" / "box" / "rnnt" / scenario / "accuracy"
        assert (acc / "accuracy.txt").read_text() == WER_0 + "\n"
    log = json.loads((acc / "mlperf_log_accuracy.json").read_text())
    ids = np.frombuffer(bytes.fromhex(next(e for e in log if e["qsl_idx"] == 5)["data"]), "<i8")
    assert "".join(rnnt.LABELS[i] for i in ids) == "hello world"


def test_one_swapped_word(model_spec_env, tmp_path):
    from mlperf_harness.models.rnnt import standin

    info = standin.generate(tmp_path / "s", n_utterances=4, swap=0.25)  # 1 of 4 transcripts, 18 words
    info["models"] = {"pytorch": info["model_path"]}
    wer = 1 / 18
    assert info["words"] == 18 and info["line"] == f"Word Error Rate: {wer * 100}%, accuracy={(1 - wer) * 100}%"
    proc = run_harness(_args(info, tmp_path / "o", "--scenario", "Offline", "--mode", "accuracy"),
                       cwd=tmp_path, env=model_spec_env)
    assert proc.returncode == 0, proc.stderr
    assert f"Offline accuracy: {info['line']}" in proc.stdout.splitlines()
    log = tmp_path / "o/box/rnnt/Offline/accuracy/mlperf_log_accuracy.json"
    script = run_python(["-m", "mlperf_harness.models.rnnt.accuracy", "--log", log,
                         "--dataset-path", info["dataset_path"], "--output", tmp_path / "a.txt"])
    assert script.returncode == 0, script.stderr
    assert (tmp_path / "a.txt").read_text() == info["line"] + "\n"
