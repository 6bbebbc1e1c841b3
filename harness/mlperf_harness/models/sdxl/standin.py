"""The sdxl stand-in (host only): a tiny SDXL pipeline through the real classes (UNet2DConditionModel
with SDXL's text_time conditioning, AutoencoderKL, CLIPTextModel + CLIPTextModelWithProjection,
generated CLIPTokenizers, EulerDiscreteScheduler) saved with save_pretrained in the reference's
checkpoint layout (checkpoint_pipe/, checkpoint_scheduler/scheduler/) and a standin_settings.json of
few steps; 32x32 images from a fixed 16x16 latent; captions.tsv + latents.pt in the reference's
layout. The accuracy encoders (accuracy-models/ beside the checkpoint): a tiny CLIPModel (its own
processor and tokenizer) and a tiny TorchScript feature extractor in Inception's place. The FID
statistics (val2014.npz) are those of the images this pipeline makes for the dataset, so FID is 0
up to float error; the expected CLIP score is computed here through CLIPModel's own forward.

    python -m mlperf_harness.models.sdxl.standin OUT_DIR [--samples N] [--seed S]
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

from mlperf_harness.standin_cli import main as standin_main, prepare, write_expected

os.environ.setdefault("USE_TF", "0")  # transformers need not import the host's TensorFlow (15 s) for these
VERSION = 1
MODEL_FILES = {"pytorch": "stable_diffusion_fp32"}
ACCURACY_MODELS = "accuracy-models"
STEPS = 2
WORDS = ("red", "green", "blue", "cat", "dog", "bus", "tree", "house", "a", "on", "the", "with", "street",
         "table", "plate", "of", "food", "man", "woman", "riding", "bike", "sitting", "near", "water")


def write_tokenizer(folder: Path):
    """A CLIP BPE tokenizer with no merges: every byte symbol alone and word-final, plus CLIP's specials."""
    from transformers import CLIPTokenizer
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77,
                              pad_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    return tokenizer


def text_config(tokenizer, **extra):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                          num_attention_heads=2, max_position_embeddings=77, projection_dim=16,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          pad_token_id=tokenizer.pad_token_id, **extra)


def build_pipeline(folder: Path, seed: int):
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    tokenizer = write_tokenizer(folder / "tokenizer-source")
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 16, cross_attention_dim=32, norm_num_groups=4)
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=4, sample_size=32)
    # SDXL's scheduler configuration (scaled_linear betas 0.00085..0.012, leading spacing, offset 1).
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading", num_train_timesteps=1000)
    pipe = StableDiffusionXLPipeline(
        vae=vae, text_encoder=CLIPTextModel(text_config(tokenizer)),
        text_encoder_2=CLIPTextModelWithProjection(text_config(tokenizer)), tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet, scheduler=scheduler, add_watermarker=False)
    pipe.save_pretrained(folder / "checkpoint_pipe", safe_serialization=True)
    scheduler.save_pretrained(folder / "checkpoint_scheduler" / "scheduler")
    (folder / "standin_settings.json").write_text(json.dumps({"steps": STEPS}) + "\n", encoding="utf-8")
    for path in (folder / "tokenizer-source").iterdir():
        path.unlink()
    (folder / "tokenizer-source").rmdir()
    return tokenizer


def build_accuracy_models(folder: Path, tokenizer, seed: int) -> None:
    """accuracy-models/clip (CLIPModel + processor + tokenizer) and accuracy-models/fid-inception.pt."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPVisionConfig

    from mlperf_harness.models.sdxl.metrics import CLIP_FOLDER, FID_EXTRACTOR

    torch.manual_seed(seed + 1)
    vision = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=16)
    config = CLIPConfig(text_config=text_config(tokenizer).to_dict(), vision_config=vision.to_dict(),
                        projection_dim=16)
    clip = folder / CLIP_FOLDER
    CLIPModel(config).eval().save_pretrained(clip, safe_serialization=True)
    tokenizer.save_pretrained(clip)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(clip)
    torch.jit.save(torch.jit.script(_tiny_pool_features()(seed)), str(folder / FID_EXTRACTOR))


def _tiny_pool_features():
    import torch
    import torch.nn.functional as F

    class TinyPoolFeatures(torch.nn.Module):
        """In Inception's place: [B, 3, H, W] in 0..1 -> [pool features [B, 6, 1, 1]] (resize, scale to -1..1,
        a 3x3 convolution, tanh, global average pool), the list pytorch-fid's InceptionV3 returns."""

        def __init__(self, seed: int):
            super().__init__()
            generator = torch.Generator().manual_seed(seed)
            self.conv = torch.nn.Conv2d(3, 6, 3, padding=1)
            with torch.no_grad():
                self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=generator))
                self.conv.bias.copy_(torch.randn(self.conv.bias.shape, generator=generator) * 0.1)

        def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
            x = F.interpolate(x, size=(24, 24), mode="bilinear", align_corners=False)
            x = torch.tanh(self.conv(2 * x - 1))
            return [F.adaptive_avg_pool2d(x, (1, 1))]

    return TinyPoolFeatures


def write_dataset(data_dir: Path, n_samples: int, seed: int) -> List[str]:
    import torch

    rng = np.random.default_rng(seed)
    captions = [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 9)))).capitalize() for _ in range(n_samples)]
    (data_dir / "captions").mkdir(exist_ok=True)
    with open(data_dir / "captions" / "captions.tsv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(("id", "image_id", "caption", "height", "width", "file_name", "coco_url"))
        for n, caption in enumerate(captions):
            name = f"COCO_val2014_{n + 1:012d}.jpg"
            writer.writerow((n, n + 1, caption, 32, 32, name, f"http://images.cocodataset.org/val2014/{name}"))
    (data_dir / "latents").mkdir(exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    torch.save(torch.randn((1, 4, 16, 16), generator=generator, dtype=torch.float32), data_dir / "latents" / "latents.pt")
    return captions


def expected_clip(clip_folder: Path, captions: List[str], images: np.ndarray) -> float:
    """100 x the mean cosine of CLIPModel's forward (its own normalised text and image embeddings)."""
    import torch
    from PIL import Image
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

    model = CLIPModel.from_pretrained(clip_folder).eval()
    tokenizer = CLIPTokenizer.from_pretrained(clip_folder)
    processor = CLIPImageProcessor.from_pretrained(clip_folder)
    scores = []
    with torch.no_grad():
        for caption, image in zip(captions, images):
            out = model(input_ids=tokenizer([caption], return_tensors="pt")["input_ids"],
                        pixel_values=processor(images=Image.fromarray(image), return_tensors="pt")["pixel_values"])
            scores.append(float((out.text_embeds * out.image_embeds).sum()))
    return float(np.mean(scores) * 100)


def generate(out_dir: Path, n_samples: int = 8, fraction: float = 1.0, seed: int = 0,
             backend: str = "pytorch") -> Dict:
    import torch

    from mlperf_harness.models.sdxl import metrics
    from mlperf_harness.models.sdxl.dataset import CocoCaptions
    from mlperf_harness.models.sdxl.pipeline import SDXLPipeline

    model_dir, data_dir = prepare(out_dir, backend, MODEL_FILES, ("--samples", n_samples), ("--fraction", fraction))
    folder = model_dir / MODEL_FILES[backend]
    tokenizer = build_pipeline(folder, seed)
    build_accuracy_models(model_dir / ACCURACY_MODELS, tokenizer, seed)
    captions = write_dataset(data_dir, n_samples, seed)
    # The images the pipeline makes for the dataset, through the harness's own pipeline code.
    dataset = CocoCaptions.open(data_dir, model_path=str(folder))
    pipeline = SDXLPipeline(str(folder))
    pipeline.set_latents(dataset.latents())
    images = np.concatenate([pipeline.generate(tuple(a[None] for a in dataset.load(i))) for i in range(n_samples)])
    features = metrics.FidFeatures(model_dir / ACCURACY_MODELS / metrics.FID_EXTRACTOR, "cpu").features(list(images))
    np.savez(data_dir / "val2014.npz", mu=features.mean(axis=0), sigma=np.cov(features, rowvar=False))
    clip = expected_clip(model_dir / ACCURACY_MODELS / metrics.CLIP_FOLDER, captions, images)
    for path in model_dir.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by any container user
    del torch
    expected = {"FID_SCORE": 0.0, "CLIP_SCORE": clip, "samples": n_samples, "image_shape": list(images.shape[1:]),
                "steps": STEPS, "generator": "sdxl", "version": VERSION}
    return write_expected(out_dir, folder, data_dir, expected)


def main(argv=None) -> int:
    return standin_main("python -m mlperf_harness.models.sdxl.standin", "Write the sdxl stand-in pipeline, its "
                        "accuracy encoders and its COCO captions.", MODEL_FILES, ("--samples", 8, "captions"),
                        ("--fraction", 1.0, "unused"), generate, argv)


if __name__ == "__main__":
    sys.exit(main())
