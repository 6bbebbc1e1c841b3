"""gptj-99 / gptj-99.9 (CNN/DailyMail summarisation; LoadGen key ``gptj``): the dataset
(dataset.py: cnn_eval.json in the reference's Alpaca prompt), the ROUGE accuracy script
(accuracy.py), the stand-in generator (standin.py, host only) and the generation rules below.

As the reference's ``backend_PyTorch.py``: ``GPTJForCausalLM`` from the checkpoint folder, one
``generate`` per sample (no batching) with early stopping, 30 to 128 new tokens and
``num_beams`` = the ``_beam_size.N`` variation (the reference's GPTJ_BEAM_SIZE; default 4, the
only value allowed in a submission). The response is the new token ids as int64, the dtype the
accuracy script reads (the reference's evaluation.py default). LoadGen infers the token
latencies from the responses (mlperf.conf ``gptj.*.infer_token_latencies``)."""

from __future__ import annotations

from mlperf_harness.llm import LLMRules
from mlperf_harness.models.common import ModelCode

LLM = LLMRules(
    model_class="GPTJForCausalLM",
    generation={"early_stopping": True, "max_new_tokens": 128, "min_new_tokens": 30},
    beam_setting=True, default_beams=4, tokenizer_max_length=1919)

CODE = ModelCode(
    scenarios=("Offline", "Server", "SingleStream"), response_dtype="int64", max_batch=1,
    input_data_types="int64",
    dataset_class="mlperf_harness.models.gptj.dataset:CnnDailyMailDataset",
    accuracy="mlperf_harness.models.gptj.accuracy", llm="mlperf_harness.models.gptj:LLM")
