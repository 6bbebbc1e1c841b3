"""gptj accuracy, as the reference's ``evaluation.py``: the accuracy log's responses (int64 token
ids, as the SUT writes them) decoded with the checkpoint's tokenizer (special tokens skipped),
ROUGE against each sample's ``output`` (llm/rouge.py), gen_len = the predictions' total length in
characters, gen_num = their number. accuracy.txt holds the reference's printed dict.

    python -m mlperf_harness.models.gptj.accuracy --log mlperf_log_accuracy.json \\
        --dataset-path DIR --model-path CHECKPOINT [--count N]
"""

from __future__ import annotations

import sys

from mlperf_harness.llm.scoring import main_for, score_log

DTYPE = "int64"


def score(log_path, dataset, expect_total=None):
    return score_log(log_path, dataset, DTYPE, expect_total=expect_total, tokens_per_sample=False)


if __name__ == "__main__":
    sys.exit(main_for("gptj", "mlperf_harness.models.gptj.dataset:CnnDailyMailDataset", score))
