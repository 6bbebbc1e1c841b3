"""rnnt: the LibriSpeech manifest layout, the reference's features (against librosa's filterbank and a torch
rendering of its FilterbankFeatures), its RNN-T checkpoint format and greedy decoding, the word-level WER,
and the stand-in's exact WER (0, and one swapped word) through the harness in every scenario it runs."""

import json

import numpy as np
import pytest

from harness_test_support import run_harness, run_python, standin_args
from mlperf_harness.errors import HarnessError
from mlperf_harness.models import rnnt
from mlperf_harness.models.rnnt import accuracy, dataset, features

WER_0 = "Word Error Rate: 0.0%, accuracy=100.0%"


def test_levenshtein_and_normalisation():
    assert accuracy.levenshtein("a b c".split(), "a x c d".split()) == 2
    assert accuracy.levenshtein([], "a b".split()) == 2
    assert dataset.normalize("  IT'S  a Test,  (DONE)! 42") == "it's a test done"


def test_mel_filterbank_is_librosas():
    """librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0, fmax=8000), as the reference builds its
    filterbank; these values were read from librosa 0.11.0 (its float32 result; ours matched it to 2e-9)."""
    fb = features.FILTERBANK
    assert fb.shape == (80, 257) and fb.dtype == np.float32
    assert float(fb.astype(np.float64).sum()) == pytest.approx(2.55826078139944, rel=1e-6)
    assert fb.argmax(axis=1)[[0, 20, 40, 60, 79]].tolist() == [1, 25, 55, 119, 246]
    for (i, j), value in {(0, 1): 0.022534560412168503, (10, 13): 0.02441513165831566, (40, 55): 0.014444176107645035,
                          (60, 119): 0.0066514392383396626, (79, 250): 0.0021035580430179834}.items():
        assert fb[i, j] == pytest.approx(value, rel=1e-6)


def _reference_features(wave):
    """The reference's FilterbankFeatures.forward with rnnt.toml's [input_eval], in torch (batch of 1)."""
    torch = pytest.importorskip("torch")
    x, n = torch.from_numpy(wave)[None], wave.size
    seq = -(-(-(-n // 160)) // 3)
    x = torch.cat((x[:, :1], x[:, 1:] - 0.97 * x[:, :-1]), dim=1)
    x = torch.stft(x, n_fft=512, hop_length=160, win_length=320, center=True,
                   window=torch.hann_window(320, periodic=False), return_complex=True)
    x = torch.view_as_real(x).pow(2).sum(-1) + 1e-5 ** 2
    x = torch.log(torch.matmul(torch.from_numpy(features.FILTERBANK)[None], x) + 1e-20)
    spliced = [x]
    for k in (1, 2):
        shifted = torch.zeros_like(x)
        shifted[:, :, :-k] = x[:, :, k:]
        spliced.append(shifted)
    x = torch.cat(spliced, dim=1)[:, :, ::3]
    mean, std = x[0, :, :seq].mean(dim=1), x[0, :, :seq].std(dim=1) + 1e-5
    return ((x - mean[None, :, None]) / std[None, :, None])[0, :, :seq].numpy()


@pytest.mark.parametrize("samples", [16000, 480 * 30, 480 * 30 + 1])
def test_features_match_the_reference_in_torch(samples):
    wave = (np.random.default_rng(samples).standard_normal(samples) * 0.1).astype(np.float32)
    feats = features.extract(wave)
    assert feats.dtype == np.float32 and feats.shape == (240, features.seq_len(samples))
    np.testing.assert_allclose(feats, _reference_features(wave), atol=2e-4)
    with pytest.raises(ValueError, match="more than 256 samples"):
        features.extract(wave[:256])


def test_checkpoint_migration_sizes_and_errors(rnnt_standin):
    torch = pytest.importorskip("torch")
    from mlperf_harness.backends.state_dicts import load_state_dict_model
    from mlperf_harness.models.rnnt import weights_pytorch

    checkpoint = torch.load(rnnt_standin["models"]["pytorch"], weights_only=True)
    keys = checkpoint["state_dict"]
    assert "joint_net.3.weight" in keys and "audio_preprocessor.featurizer.fb" in keys  # the published names
    wrapped = {"state_dict": {"module." + k: v for k, v in keys.items()}}  # DataParallel's prefix too
    model, description = load_state_dict_model(wrapped)
    assert description.startswith("RNN-T state_dict (encoder 1+1 x 64, prediction 1 x 1")
    assert isinstance(model, weights_pytorch.GreedyRnnt) and model.blank == rnnt.BLANK == 28
    # the real checkpoint's sizes (rnnt.toml [rnnt]) build the same classes
    real = weights_pytorch.RNNT(29, 240, 1024, 2, 3, 2, 320, 2, 512)
    names = {k: v.shape for k, v in real.state_dict().items()}
    assert names["encoder.post_rnn.lstm.weight_ih_l2"] == (4096, 1024)
    assert names["encoder.post_rnn.lstm.weight_ih_l0"] == (4096, 2048)
    assert names["prediction.embed.weight"] == (28, 320) and names["joint.net.3.weight"] == (29, 512)
    assert sum(v.numel() for v in real.state_dict().values()) == 45_323_037  # the published 45.3 M
    bad = dict(keys, **{"encoder.pre_rnn.lstm.weight_ih_l0": torch.zeros(256, 257)})
    with pytest.raises(ValueError, match="taking 257 features per frame"):
        load_state_dict_model({"state_dict": bad})
    with pytest.raises(ValueError, match="not the reference's RNN-T: .*joint.net.3.bias"):
        load_state_dict_model({k: v for k, v in keys.items() if k != "joint_net.3.bias"})


def test_greedy_decoding_emits_per_frame_until_blank(rnnt_standin):
    """The reference's loop: several labels in one frame (until the blank), held tones once, a batch
    decoded per sample after one encoder pass (lengths cut each sample's frames)."""
    torch = pytest.importorskip("torch")
    from mlperf_harness.backends.state_dicts import load_state_dict_model
    from mlperf_harness.models.rnnt import standin

    model, _ = load_state_dict_model(torch.load(rnnt_standin["models"]["pytorch"], weights_only=True))
    calls = []
    model.model.joint.net.register_forward_hook(lambda *_: calls.append(1))
    waves = [standin.tones(p)[0].astype(np.float32) / 32768.0 for p in (5, 6)]  # hello world, don't stop
    feats = [features.extract(w) for w in waves]
    batch = np.zeros((max(f.shape[1] for f in feats), 2, 240), dtype=np.float32)
    for b, f in enumerate(feats):
        batch[:f.shape[1], b] = f.T
    with torch.inference_mode():
        ids = model(torch.from_numpy(batch), torch.tensor([f.shape[1] for f in feats]))
    texts = ["".join(rnnt.LABELS[k] for k in row if k >= 0) for row in ids.tolist()]
    assert texts == ["hello world", "don't stop"] and ids.dtype == torch.int64 and (ids[1, 10:] == -1).all()
    frames = sum(-(-f.shape[1] // 2) for f in feats)
    assert len(calls) == frames + len("hello world") + len("don't stop")  # one blank per frame + one per label
    # an encoder frame holding "h" at both parities never reaches the blank: labels alternate in that frame
    # until the reference's cap of 30 symbols per frame; the silent frames after it add none
    frames = torch.full((3, 64), -0.7616)
    h, i = rnnt.LABELS.index("h"), rnnt.LABELS.index("i")
    frames[0, 2 * h] = frames[0, 2 * i + 1] = 0.7616
    calls.clear()
    assert model._decode(frames) == [h, i] * 15 and len(calls) == 30 + 2
    model.max_symbols = 1
    assert model._decode(frames) == [h]


def test_layout_and_errors(rnnt_standin, tmp_path):
    data = dataset.LibriSpeechDataset.open(rnnt_standin["dataset_path"])
    assert len(data) == 8 and data.transcripts[2] == "it's a jolly good hex"
    wave = data.load(0)
    assert wave.dtype == np.float32 and 0.3 < np.abs(wave).max() < 0.35
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
    # one intra-op thread: the stand-in's tiny LSTMs gain nothing from more, and lose much on a busy machine
    return standin_args("rnnt", info, "pytorch", out, "--threads", "1", *extra)


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
