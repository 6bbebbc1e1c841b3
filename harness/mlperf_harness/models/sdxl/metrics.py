"""CLIP score and FID as the reference's tools/accuracy_coco.py computes them, with nothing downloaded.

- CLIP: 100 x the cosine of the image's and the caption's CLIP embeddings, per sample, averaged. The
  reference loads open_clip's ViT-B/32 "openai" weights from the internet at run time; here a
  transformers ``CLIPModel`` folder (its processor: resize, centre crop, CLIP's mean/std; its tokenizer:
  77 tokens) baked in the image (``accuracy-models/clip``).
- FID: pool features of every generated image (float 0..1, CHW, batch 1, as torchvision's ToTensor
  gives them) from a TorchScript feature extractor (``accuracy-models/fid-inception.pt``: pytorch-fid's
  InceptionV3 returns [pool features [B, 2048, 1, 1]]), their mean and covariance against the reference
  statistics (``val2014.npz``: mu, sigma), in the reference's Fréchet distance (scipy's sqrtm)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import List, Sequence

import numpy as np

from mlperf_harness.errors import HarnessError

CLIP_FOLDER = "clip"
FID_EXTRACTOR = "fid-inception.pt"


class ClipScore:
    def __init__(self, folder, device: str = "cpu") -> None:
        import torch
        from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

        self.torch = torch
        self.device = torch.device("cpu" if device == "cpu" else "cuda")
        try:
            self.model = CLIPModel.from_pretrained(str(folder), local_files_only=True).eval().to(self.device)
            self.tokenizer = CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
            self.processor = CLIPImageProcessor.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise HarnessError(f"cannot load the CLIP model from {folder}: {str(exc).splitlines()[0]}") from None

    def score(self, caption: str, image: np.ndarray) -> float:
        """100 x cos(image features, text features) of one uint8 HWC image and its caption."""
        from PIL import Image

        torch = self.torch
        with torch.no_grad():
            pixels = self.processor(images=Image.fromarray(image), return_tensors="pt")["pixel_values"]
            image_features = self.model.get_image_features(pixel_values=pixels.to(self.device)).float()
            image_features /= image_features.norm(dim=-1, keepdim=True)
            ids = self.tokenizer([caption], padding="max_length", max_length=77, truncation=True,
                                 return_tensors="pt")["input_ids"]
            text_features = self.model.get_text_features(input_ids=ids.to(self.device)).float()
            text_features /= text_features.norm(dim=-1, keepdim=True)
            return 100 * float((image_features @ text_features.T).item())


class FidFeatures:
    def __init__(self, path, device: str = "cpu") -> None:
        import torch

        self.torch = torch
        self.device = torch.device("cpu" if device == "cpu" else "cuda")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript, torch >= 2.10
                self.model = torch.jit.load(str(path), map_location=self.device).eval()
        except Exception as exc:
            raise HarnessError(f"cannot load the FID feature extractor {path}: {str(exc).splitlines()[0]}") from None

    def features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """uint8 HWC images -> pool features [N, dims] (float64), one image per call as the reference."""
        torch = self.torch
        rows: List[np.ndarray] = []
        with torch.no_grad():
            for image in images:
                x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None].float().div(255)
                out = self.model(x.to(self.device))
                out = out[0] if isinstance(out, (list, tuple)) else out
                if out.dim() == 4 and (out.shape[2] != 1 or out.shape[3] != 1):
                    out = torch.nn.functional.adaptive_avg_pool2d(out, (1, 1))
                rows.append(out.reshape(out.shape[0], -1).double().cpu().numpy())
        return np.concatenate(rows)


def read_statistics(path) -> tuple:
    try:
        with np.load(path) as data:
            return np.asarray(data["mu"]), np.asarray(data["sigma"])
    except FileNotFoundError:
        raise HarnessError(f"{path}: not found (the FID reference statistics, the reference's val2014.npz)") from None
    except (OSError, KeyError, ValueError) as exc:
        raise HarnessError(f"{path}: not an .npz with mu and sigma ({exc})") from None


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """The reference's calculate_frechet_distance (Dougal J. Sutherland's stable version)."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise HarnessError(f"the FID statistics have {mu1.shape[0]} features, the extractor gives {mu2.shape[0]}")
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise HarnessError(f"FID: imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(images: Sequence[np.ndarray], extractor: FidFeatures, statistics) -> float:
    mu1, sigma1 = read_statistics(statistics)
    features = extractor.features(images)
    return frechet_distance(mu1, sigma1, features.mean(axis=0), np.cov(features, rowvar=False))


def accuracy_models(model_path) -> Path:
    """The baked accuracy encoders: accuracy-models/ beside the checkpoint, else the image's model folder
    (a --model DIR mount keeps the image's encoders)."""
    from mlperf_harness.contract import MODEL_DIR

    beside = Path(model_path).parent / "accuracy-models"
    return beside if beside.is_dir() else Path(MODEL_DIR) / "accuracy-models"
