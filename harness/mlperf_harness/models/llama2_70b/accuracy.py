"""llama2-70b accuracy, as the reference's ``evaluate-accuracy.py``: the accuracy log's responses
(int32 token ids, as the SUT writes them in both scenarios) decoded with the checkpoint's tokenizer,
ROUGE against each sample's ``output`` (llm/rouge.py), gen_len (characters), gen_num,
gen_tok_len (generated tokens) and tokens_per_sample (their mean, to 0.1), which the checker
requires within 10% of 294.45. accuracy.txt holds the reference's printed dict.

    python -m mlperf_harness.models.llama2_70b.accuracy --log mlperf_log_accuracy.json \\
        --dataset-path DIR --model-path CHECKPOINT [--count N]
"""

from __future__ import annotations

import sys

from mlperf_harness.llm.scoring import main_for, score_log

DTYPE = "int32"


def score(log_path, dataset, expect_total=None):
    return score_log(log_path, dataset, DTYPE, expect_total=expect_total, tokens_per_sample=True)


if __name__ == "__main__":
    sys.exit(main_for("llama2-70b", "mlperf_harness.models.llama2_70b.dataset:OpenOrcaDataset", score))
