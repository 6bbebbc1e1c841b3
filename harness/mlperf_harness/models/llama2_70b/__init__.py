"""llama2-70b-99 / llama2-70b-99.9 (OpenOrca; LoadGen key ``llama2-70b``; their interactive variants,
key ``llama2-70b-interactive``, run the same code with LoadGen's stricter TTFT/TPOT): the dataset
(dataset.py: the reference's pickled DataFrame), the ROUGE + tokens_per_sample accuracy script
(accuracy.py), the stand-in generator (standin.py, host only) and the generation rules below.

As the reference's ``SUT.py``: ``LlamaForCausalLM`` from the checkpoint folder, greedy decoding of
1 to 1024 new tokens. Offline batches (up to --max_batchsize) are left-padded to 1024 tokens and
the response is what follows; Server runs each query alone with a streamer that sends the first
token to ``lg.FirstTokenComplete`` (mlperf.conf ``use_token_latencies``, TTFT 2 s / TPOT 200 ms).
Responses are int32 in both scenarios (the reference's Server writes int32, its Offline int64 and
its README scores with ``--dtype int32``: one dtype here, read the same by the accuracy script),
cut after the first end-of-sequence token, with ``n_tokens`` = their count. Offline and Server
only, as the reference."""

from __future__ import annotations

from mlperf_harness.llm import LLMRules
from mlperf_harness.models.common import ModelCode

LLM = LLMRules(
    model_class="LlamaForCausalLM",
    # (the reference also passes early_stopping=True, which greedy decoding ignores)
    generation={"max_new_tokens": 1024, "min_new_tokens": 1, "num_beams": 1,
                "do_sample": False},
    pad_to=1024, stream_first_token=True, tokenizer_max_length=1024)

CODE = ModelCode(
    scenarios=("Offline", "Server"), response_dtype="int32", input_data_types="int32",
    dataset_class="mlperf_harness.models.llama2_70b.dataset:OpenOrcaDataset",
    accuracy="mlperf_harness.models.llama2_70b.accuracy", llm="mlperf_harness.models.llama2_70b:LLM")
