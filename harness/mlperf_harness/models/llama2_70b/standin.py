"""The llama2-70b stand-in (host only): a sentencepiece tokenizer trained here in well under a second
(BPE with byte fallback, as Llama's) on the NATO alphabet's words, a 1-layer ``LlamaForCausalLM``
whose greedy output is the word chain (llm/standin.py) from the prompt's last word to the end,
then end-of-sequence, in a checkpoint folder named as images.yaml's model_file, and the reference's
pickled DataFrame (``tok_input`` = the tokenized prompt "Continue the list from <word>",
``output`` = the rest of the list). Prompts start at different words, so the samples generate
different numbers of tokens: ROUGE 100 and a known tokens_per_sample (end-of-sequence included,
as the reference counts the response's tokens).

    python -m mlperf_harness.models.llama2_70b.standin OUT_DIR [--samples N] [--seed S]
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

from mlperf_harness.llm import standin as chain
from mlperf_harness.models.llama2_70b.dataset import INDEX
from mlperf_harness.standin_cli import main as standin_main, prepare, write_expected

os.environ.setdefault("USE_TF", "0")  # transformers need not import the host's TensorFlow (host only)
VERSION = 1
MODEL_FILES = {"pytorch": "Llama-2-70b-chat-hf"}
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar "
         "papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


def train_tokenizer(folder: Path):
    import sentencepiece as spm
    from transformers import LlamaTokenizer

    corpus = [" ".join(WORDS)] * 50 + [f"Continue the list from {w}" for w in WORDS] * 20
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=proto, vocab_size=400,
                                   hard_vocab_limit=False, model_type="unigram", byte_fallback=True,
                                   character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                                   num_threads=1, minloglevel=2, seed_sentencepiece_size=1000)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.model").write_bytes(proto.getvalue())
    return LlamaTokenizer(str(folder / "tokenizer.model"), legacy=False)


def chain_ids(tokenizer) -> List[int]:
    """The words the tokenizer keeps whole ("▁word" one piece), as the chain."""
    ids = []
    for word in WORDS:
        piece = tokenizer.convert_tokens_to_ids("\u2581" + word)
        if piece != tokenizer.unk_token_id and tokenizer.encode(" " + word, add_special_tokens=False) == [piece]:
            ids.append(piece)
    if len(ids) < 8 or len(set(ids)) != len(ids):
        raise RuntimeError(f"the trained tokenizer keeps only {len(ids)} words whole")
    return ids


def build_model(tokenizer, ids: List[int], seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    size = -(-len(tokenizer) // 8) * 8
    follow: Dict[int, int] = dict(zip(ids, ids[1:]))
    follow[ids[-1]] = tokenizer.eos_token_id
    config = LlamaConfig(vocab_size=size, hidden_size=size, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=1, num_key_value_heads=1, max_position_embeddings=2048,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    chain.fill(model, {"model.embed_tokens.weight": np.eye(size, dtype=np.float32),
                       "lm_head.weight": chain.chain_head(size, follow, ids[0])},
               ("self_attn.o_proj.weight", "mlp.down_proj.weight"), seed)
    return model


def generate(out_dir: Path, n_samples: int = 8, fraction: float = 1.0, seed: int = 0,
             backend: str = "pytorch") -> Dict:
    import pandas as pd

    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("--samples", n_samples), ("--fraction", fraction))
    folder = model_dir / MODEL_FILES[backend]
    tokenizer = train_tokenizer(folder)
    ids = chain_ids(tokenizer)
    chain.save(build_model(tokenizer, ids, seed), tokenizer, folder)
    words = [tokenizer.convert_ids_to_tokens(i)[1:] for i in ids]
    rng = np.random.default_rng(seed)
    starts = [int(s) for s in rng.integers(0, len(ids) - 1, size=n_samples)]  # never the last word
    rows = [{"input": f"Continue the list from {words[s]}",
             "tok_input": tokenizer(f"Continue the list from {words[s]}").input_ids,
             "output": " ".join(words[s + 1:])} for s in starts]
    pd.DataFrame(rows).to_pickle(data_dir / INDEX)
    generated = [len(ids) - s for s in starts]  # the rest of the chain + end-of-sequence
    tokens_per_sample = round(sum(generated) / n_samples, 1)
    line = repr({"rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0, "rougeLsum": 100.0,
                 "gen_len": sum(len(r["output"]) for r in rows), "gen_num": n_samples,
                 "gen_tok_len": sum(generated), "tokens_per_sample": tokens_per_sample})
    expected = {"line": line, "samples": n_samples, "tokens_per_sample": tokens_per_sample,
                "generator": "llama2_70b", "version": VERSION}
    return write_expected(out_dir, folder, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.llama2_70b.standin", "Write the llama2-70b stand-in "
                        "checkpoint and its OpenOrca-style DataFrame.", MODEL_FILES,
                        ("--samples", 8, "synthetic prompts"), ("--fraction", 1.0, "unused"), generate, argv)


if __name__ == "__main__":
    sys.exit(main())
