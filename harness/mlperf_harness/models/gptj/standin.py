"""The gptj stand-in (host only): a 1-layer ``GPTJForCausalLM`` and a byte-level GPT-2 tokenizer
(vocab.json + merges.txt written here: the 256 byte symbols, ``<|endoftext|>`` and merges that make
128 three-letter words single tokens), in a checkpoint folder named as images.yaml's model_file,
and a cnn_eval.json of synthetic articles whose ``output`` is the chain the model generates
(llm/standin.py): whatever the prompt, the 128 words in order, so every sample scores ROUGE 100 at
any beam count, with gen_len = samples x the chain's length in characters.

    python -m mlperf_harness.models.gptj.standin OUT_DIR [--samples N] [--seed S]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

from mlperf_harness.llm import standin as chain
from mlperf_harness.standin_cli import main as standin_main, prepare, write_expected

VERSION = 1
MODEL_FILES = {"pytorch": "gpt-j-6b"}
CHAIN = 128  # = max_new_tokens: the model never ends a sample early
EOS = "<|endoftext|>"


def chain_words() -> List[str]:
    words = [c1 + v + c2 for c1 in "bdfgklmnprstvz" for v in "aeiou" for c2 in "nst"]
    return words[:CHAIN]


def write_tokenizer(folder: Path, words: List[str]):
    from transformers import GPT2Tokenizer
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    space = bytes_to_unicode()[ord(" ")]  # "Ġ"
    merges: List[str] = []
    for word in words:
        piece = space
        for char in word:
            merge = f"{piece} {char}"
            if merge not in merges:
                merges.append(merge)
            piece += char
    vocab = symbols + [m.replace(" ", "") for m in merges] + [EOS]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return GPT2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))


def build_model(tokenizer, words: List[str], seed: int):
    from transformers import GPTJConfig, GPTJForCausalLM

    size = -(-len(tokenizer) // 8) * 8
    ids = [tokenizer.convert_tokens_to_ids("Ġ" + w) for w in words]
    assert len(set(ids)) == len(ids) and tokenizer.unk_token_id not in ids
    follow: Dict[int, int] = {a: b for a, b in zip(ids, ids[1:])}
    config = GPTJConfig(vocab_size=size, n_positions=2048, n_embd=size, n_layer=1, n_head=1, rotary_dim=64,
                        n_inner=16, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                        tie_word_embeddings=False)
    model = GPTJForCausalLM(config)
    bias = np.zeros(size, np.float32)
    bias[tokenizer.eos_token_id] = -100.0  # never generated: every sample runs to max_new_tokens
    bias[len(tokenizer):] = -100.0
    chain.fill(model, {"transformer.wte.weight": np.eye(size, dtype=np.float32),
                       "lm_head.weight": chain.chain_head(size, follow, ids[0]), "lm_head.bias": bias},
               ("attn.out_proj.weight", "mlp.fc_out.weight", "mlp.fc_out.bias"), seed)
    return model


def generate(out_dir: Path, n_samples: int = 8, fraction: float = 1.0, seed: int = 0,
             backend: str = "pytorch") -> Dict:
    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("--samples", n_samples), ("--fraction", fraction))
    folder = model_dir / MODEL_FILES[backend]
    words = chain_words()
    tokenizer = write_tokenizer(folder, words)
    chain.save(build_model(tokenizer, words, seed), tokenizer, folder)
    rng = np.random.default_rng(seed)
    summary = " ".join(words)
    examples = [{"instruction": "Summarize the following news article:",
                 "input": " ".join(rng.choice(words, size=40)).capitalize() + ".",
                 "output": summary} for _ in range(n_samples)]
    (data_dir / "cnn_eval.json").write_text(json.dumps(examples, indent=1) + "\n", encoding="utf-8")
    expected = {"line": repr({"rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0, "rougeLsum": 100.0,
                              "gen_len": len(summary) * n_samples, "gen_num": n_samples}),
                "samples": n_samples, "tokens_per_sample": CHAIN, "generator": "gptj", "version": VERSION}
    return write_expected(out_dir, folder, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.gptj.standin", "Write the gptj stand-in checkpoint "
                        "and its cnn_eval.json.", MODEL_FILES, ("--samples", 8, "synthetic articles"),
                        ("--fraction", 1.0, "unused"), generate, argv)


if __name__ == "__main__":
    sys.exit(main())
