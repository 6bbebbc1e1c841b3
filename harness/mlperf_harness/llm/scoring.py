"""The accuracy scripts of the generative models: the accuracy log decoded with the checkpoint's
tokenizer and scored with ROUGE, printed as the reference prints it (a dict whose
``'rouge1': ...``, ``'gen_len': ...`` and ``'tokens_per_sample': ...`` entries the submission
checker reads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from mlperf_harness.llm import rouge


@dataclass
class RougeResult:
    values: Dict[str, object]

    def line(self) -> str:
        return rouge.result_text(self.values)

    def accuracy_txt(self) -> str:
        return self.line() + "\n"

    def __getitem__(self, key):
        return self.values[key]


def score_log(log_path, dataset, dtype: str, expect_total: Optional[int] = None,
              tokens_per_sample: bool = True) -> RougeResult:
    """Score ``log_path`` (responses of ``dtype``) against ``dataset.targets``."""
    entries = rouge.read_log(log_path, dtype)
    rouge.check_entries(log_path, entries, len(dataset.targets), expect_total)
    tokenizer = dataset.tokenizer()
    decoded = tokenizer.batch_decode([ids for _, ids in entries], skip_special_tokens=True)
    predictions = rouge.postprocess(decoded)
    references = rouge.postprocess([dataset.targets[i] for i, _ in entries])
    values: Dict[str, object] = dict(rouge.rouge(predictions, references))
    values["gen_len"] = int(sum(len(p) for p in predictions))
    values["gen_num"] = len(predictions)
    if tokens_per_sample:
        generated = sum(len(ids) for _, ids in entries)
        values["gen_tok_len"] = int(generated)
        values["tokens_per_sample"] = round(generated / len(entries), 1)
    return RougeResult(values)


def main_for(model: str, dataset_class: str, score) -> int:
    """``python -m mlperf_harness.models.<model>.accuracy --log ... --dataset-path ... --model-path ...``."""
    import importlib

    from mlperf_harness.models.common import accuracy_main, accuracy_parser

    parser = accuracy_parser(model, f"{model} ROUGE from mlperf_log_accuracy.json", "the dataset folder",
                             "samples the run used (default: any)")
    parser.add_argument("--model-path", required=True, help="the checkpoint folder (its tokenizer decodes)")

    def run(args):
        module, _, name = dataset_class.partition(":")
        cls = getattr(importlib.import_module(module), name)
        dataset = cls.open(Path(args.dataset_path), model_path=args.model_path)
        return score(args.log, dataset, expect_total=args.count)

    return accuracy_main(parser, None, run)
