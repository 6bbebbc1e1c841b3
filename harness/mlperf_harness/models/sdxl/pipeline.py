"""The SDXL pipeline as the reference's backend_pytorch.py runs it: diffusers'
``StableDiffusionXLPipeline`` loaded once from the checkpoint folder (no download, no watermarker)
with ``EulerDiscreteScheduler``, guidance 8.0, 20 steps, the reference's negative prompt, the
fixed latent repeated over the batch, prompt embeddings from both text encoders (penultimate hidden
states concatenated; pooled output of the second), images as uint8 HWC (x255, rounded). The weights
are loaded once (accelerate's low_cpu_mem_usage: built on the meta device, no second copy).

A stand-in checkpoint may carry ``standin_settings.json`` (steps, guidance_scale) so that it runs in
seconds; a real checkpoint has none and runs the reference's values."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from mlperf_harness.errors import HarnessError
from mlperf_harness.models.sdxl.dataset import pipeline_folder, tokenize

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_OFFLINE", "1")

STEPS = 20
GUIDANCE = 8.0
NEGATIVE_PROMPT = "normal quality, low quality, worst quality, low res, blurry, nsfw, nude"
STANDIN_SETTINGS = "standin_settings.json"
DTYPES = {"fp32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def scheduler_folder(model_path) -> tuple:
    """(folder, subfolder) of the scheduler config: the reference's checkpoint_scheduler/scheduler, else
    the pipeline's own scheduler/."""
    root = Path(model_path)
    if (root / "checkpoint_scheduler").is_dir():
        return root / "checkpoint_scheduler", "scheduler"
    return pipeline_folder(root), "scheduler"


class SDXLPipeline:
    def __init__(self, path: str, device: str = "cpu", precision: str = "fp32",
                 threads: Optional[int] = None) -> None:
        import torch
        from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

        if not os.path.isdir(path):
            raise HarnessError(f"{path}: not a checkpoint folder (a diffusers SDXL pipeline)")
        if threads:
            torch.set_num_threads(threads)
        if device != "cpu" and not torch.cuda.is_available():
            raise HarnessError(f"--device {device}: this torch build ({torch.__version__}) sees no GPU")
        self.torch = torch
        self.device = torch.device("cpu" if device == "cpu" else "cuda")
        self.dtype = getattr(torch, DTYPES[precision])
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()  # the loading bars of from_pretrained
        folder, subfolder = scheduler_folder(path)
        try:
            scheduler = EulerDiscreteScheduler.from_pretrained(str(folder), subfolder=subfolder,
                                                               local_files_only=True)
            pipe = StableDiffusionXLPipeline.from_pretrained(
                str(pipeline_folder(path)), scheduler=scheduler, add_watermarker=False, torch_dtype=self.dtype,
                local_files_only=True, low_cpu_mem_usage=True)
        except (OSError, ValueError, TypeError) as exc:
            raise HarnessError(f"cannot load the SDXL pipeline from {path}: {str(exc).splitlines()[0]}") from None
        pipe.set_progress_bar_config(disable=True)  # the denoising loop's bar
        self.pipe = pipe.to(self.device)
        settings = {}
        if (Path(path) / STANDIN_SETTINGS).is_file():
            settings = json.loads((Path(path) / STANDIN_SETTINGS).read_text(encoding="utf-8"))
        self.steps = int(settings.get("steps", STEPS))
        self.guidance = float(settings.get("guidance_scale", GUIDANCE))
        self.standin = bool(settings)
        self.negative = [torch.from_numpy(tokenize(t, NEGATIVE_PROMPT))[None]
                         for t in (pipe.tokenizer, pipe.tokenizer_2)]
        self.latents = None

    def set_latents(self, latents) -> None:
        self.latents = latents.to(self.device, self.dtype)

    def describe(self) -> str:
        import diffusers

        where = " (the stand-in's settings)" if self.standin else ""
        return (f"pytorch {self.torch.__version__} (diffusers {diffusers.__version__} StableDiffusionXLPipeline, "
                f"EulerDiscreteScheduler, {str(self.dtype).replace('torch.', '')}), device: {self.device.type}, "
                f"steps: {self.steps}, guidance: {self.guidance}{where}")

    def _embed(self, ids_pair: Sequence):
        """Token ids for both encoders [B, 77] -> (prompt embeddings, pooled embeddings), as the reference's
        encode_tokens: each encoder's penultimate hidden states concatenated; the second's pooled output."""
        torch = self.torch
        embeds, pooled = [], None
        for ids, encoder in zip(ids_pair, (self.pipe.text_encoder, self.pipe.text_encoder_2)):
            out = encoder(ids.to(self.device), output_hidden_states=True)
            pooled = out[0]
            embeds.append(out.hidden_states[-2])
        return torch.concat(embeds, dim=-1).to(self.dtype), pooled.to(self.dtype)

    def generate(self, batch) -> np.ndarray:
        """A batch of (token ids, token ids 2) -> images uint8 [B, H, W, 3]."""
        torch = self.torch
        if self.latents is None:
            raise HarnessError("the pipeline has no latents (set_latents)")
        ids = [torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)) for a in batch]
        size = ids[0].shape[0]
        with torch.inference_mode():
            prompt, pooled = self._embed(ids)
            negative, negative_pooled = self._embed([n.repeat(size, 1) for n in self.negative])
            images = self.pipe(prompt_embeds=prompt, negative_prompt_embeds=negative, pooled_prompt_embeds=pooled,
                               negative_pooled_prompt_embeds=negative_pooled, guidance_scale=self.guidance,
                               num_inference_steps=self.steps, output_type="pt",
                               latents=self.latents.repeat(size, 1, 1, 1)).images
        return (images.permute(0, 2, 3, 1).float().cpu().numpy() * 255).round().astype(np.uint8)
