"""A dlrm-v2 stand-in: a tiny TorchScript model with the harness's DLRM signature
(``dense`` float32 [B,13], ``sparse`` int32 [B,214] -> click probability [B]) and a multi-hot
Criteo folder in the reference layout whose AUC is known exactly.

Model: 26 embedding tables (ROWS x DIM), each feature's multi-hot lookups summed (as an
EmbeddingBag), concatenated with the dense features, one linear layer, sigmoid. Data: random
indices and dense features, then dense feature 0 (weight 1) set so each row's logit is a
drawn target, |target| in [0.5, 4]; label := target > 0, i.e. prob > 0.5. Every positive then
scores above every negative: AUC = 100% and accuracy = 100% from sklearn and the rounding.
``flip`` inverts that fraction of the labels (the first rows of the evaluation half); the
expected AUC is then sklearn's on the float64 probabilities. The folder holds 2 x rows rows
(the reference evaluates the first half of day 23) and dist_quantile.txt = AGGREGATE: every
sample is AGGREGATE rows, through the reference's quantile mechanism.

    python -m mlperf_harness.models.dlrm_v2.standin OUT_DIR [--samples N] [--flip F] [--seed S]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict

import numpy as np

from mlperf_harness.models.dlrm_v2 import DENSE_FEATURES, MULTI_HOT_SIZES, SPARSE_SLOTS
from mlperf_harness.models.dlrm_v2.dataset import DENSE, LABELS, QUANTILE, SPARSE
from mlperf_harness.models.resnet50.standin import compile_torch_source, torchscript_bytes
from mlperf_harness.standin_cli import main as standin_main, prepare, write_expected

VERSION = 1
ROWS, DIM = 32, 4
AGGREGATE = 64
FEATURES = len(MULTI_HOT_SIZES)
MODEL_FILES = {"pytorch": "dlrm-v2.pt"}

_TORCH_SOURCE = """
import torch


class DlrmStandin(torch.nn.Module):
    def __init__(self, table, slot_base, pool, weight, bias):
        super().__init__()
        self.register_buffer("table", table)
        self.register_buffer("slot_base", slot_base)
        self.register_buffer("pool", pool)
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)

    def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        emb = torch.nn.functional.embedding(sparse.long() + self.slot_base, self.table)
        pooled = torch.einsum("bsd,sf->bfd", emb, self.pool).reshape(dense.shape[0], -1)
        logit = torch.cat([dense, pooled], dim=1) @ self.weight + self.bias
        return torch.sigmoid(logit)
"""


def weights(seed: int = 0):
    """(table [26*ROWS, DIM], slot_base int64 [214], pool [214, 26], weight [13+26*DIM], bias [1])."""
    rng = np.random.default_rng([seed, 1])
    table = rng.normal(0, 0.5, size=(FEATURES * ROWS, DIM)).astype(np.float32)
    feature_of_slot = np.repeat(np.arange(FEATURES), MULTI_HOT_SIZES)
    slot_base = (feature_of_slot * ROWS).astype(np.int64)
    pool = np.eye(FEATURES, dtype=np.float32)[feature_of_slot]
    weight = rng.normal(0, 0.3, size=DENSE_FEATURES + FEATURES * DIM).astype(np.float32)
    weight[0] = 1.0
    return table, slot_base, pool, weight, np.array([0.1], dtype=np.float32)


def logits(dense, sparse, params) -> np.ndarray:
    """The model's logits in float64 (numpy, independent of torch)."""
    table, slot_base, pool, weight, bias = (np.asarray(p, dtype=np.float64) if p.dtype != np.int64 else p
                                            for p in params)
    emb = table[sparse.astype(np.int64) + slot_base]
    pooled = np.einsum("bsd,sf->bfd", emb, pool).reshape(len(dense), -1)
    return np.concatenate([dense.astype(np.float64), pooled], axis=1) @ weight + bias[0]


def model_bytes(backend: str = "pytorch", seed: int = 0) -> bytes:
    if backend != "pytorch":
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(MODEL_FILES)}")
    import torch

    namespace = compile_torch_source(_TORCH_SOURCE, "mlperf_docker_standins/dlrm_v2_torch.py")
    return torchscript_bytes(namespace["DlrmStandin"](*(torch.from_numpy(p.copy()) for p in weights(seed))))


def export_model(path, backend: str = "pytorch") -> Path:
    path = Path(path)
    path.write_bytes(model_bytes(backend))
    return path


def write_multi_hot(data_dir: Path, dense: np.ndarray, sparse: np.ndarray, labels: np.ndarray) -> None:
    """The reference's three files: dense (N,13) f32, the sparse .npz (uncompressed, keys 0..25,
    int32), labels (N,1) int32."""
    np.save(data_dir / DENSE, dense.astype(np.float32))
    np.save(data_dir / LABELS, labels.astype(np.int32).reshape(-1, 1))
    bounds = np.cumsum((0,) + MULTI_HOT_SIZES)
    np.savez(data_dir / SPARSE, **{str(k): np.ascontiguousarray(sparse[:, bounds[k]:bounds[k + 1]], dtype=np.int32)
                                   for k in range(FEATURES)})


def generate(out_dir: Path, n_samples: int = 16, flip: float = 0.0, seed: int = 0,
             backend: str = "pytorch") -> Dict:
    """Write the stand-in model, dataset and expected.json under ``out_dir``."""
    from sklearn.metrics import roc_auc_score

    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("n_samples", n_samples), ("flip", flip))
    model_path = model_dir / MODEL_FILES[backend]
    model_path.write_bytes(model_bytes(backend, seed))
    params = weights(seed)
    rows = 2 * n_samples * AGGREGATE
    rng = np.random.default_rng([seed, 2])
    dense = rng.normal(0, 1, size=(rows, DENSE_FEATURES)).astype(np.float32)
    sparse = rng.integers(0, ROWS, size=(rows, SPARSE_SLOTS), dtype=np.int32)
    target = rng.uniform(0.5, 4.0, size=rows) * np.where(np.arange(rows) % 2, 1.0, -1.0)
    rng.shuffle(target)
    dense[:, 0] = 0.0
    dense[:, 0] = (target - logits(dense, sparse, params)).astype(np.float32)
    logit = logits(dense, sparse, params)  # = target up to float32 rounding of dense[:, 0]
    labels = (logit > 0).astype(np.int32)
    flipped = int(np.floor(flip * rows / 2 + 0.5))
    labels[:flipped] = 1 - labels[:flipped]
    write_multi_hot(data_dir, dense, sparse, labels)
    (data_dir / QUANTILE).write_text(f"{AGGREGATE}\n", encoding="utf-8")

    half = rows // 2
    prob = 1.0 / (1.0 + np.exp(-logit[:half]))
    auc = float(roc_auc_score(labels[:half], prob))
    good = int(np.count_nonzero(prob.round() == labels[:half]))
    line = (f"AUC={100.0 * auc:.3f}%, accuracy={100.0 * good / half:.3f}%, good={good}, "
            f"total={half}, queries={n_samples}")
    expected = {"auc": auc, "line": line, "samples": n_samples, "rows_per_sample": AGGREGATE,
                "generator": "dlrm_v2", "version": VERSION, "backend": backend}
    return write_expected(out_dir, model_path, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.dlrm_v2.standin",
                        "Write the dlrm-v2 stand-in model and multi-hot Criteo folder.",
                        MODEL_FILES, ("--samples", 16, "aggregated samples (64 rows each)"),
                        ("--flip", 0.0, "fraction of labels inverted (0: AUC 100%)"), generate, argv)


if __name__ == "__main__":
    sys.exit(main())
