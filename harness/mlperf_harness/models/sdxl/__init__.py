"""sdxl (stable-diffusion-xl; COCO-2014 captions, text to image): the dataset (dataset.py: the
reference's captions.tsv + latents.pt), the diffusers pipeline (pipeline.py), one LoadGen test
(run.py), the CLIP and FID accuracy (metrics.py, accuracy.py) and the stand-in generator
(standin.py, host only).

As the reference's ``text_to_image`` (backend_pytorch.py, coco.py): diffusers'
``StableDiffusionXLPipeline`` from the checkpoint folder with ``EulerDiscreteScheduler``, 20 steps,
guidance 8.0, the reference's negative prompt and one fixed latent (``latents.pt``) for every
sample; captions tokenized by both of the pipeline's tokenizers in the QSL, encoded in the timed
path; the response is each image as uint8 HWC, which the accuracy script reads back from
mlperf_log_accuracy.json (CLIP score and FID, ``'FID_SCORE': ..., 'CLIP_SCORE': ...``)."""

from __future__ import annotations

from mlperf_harness.models.common import ModelCode

CODE = ModelCode(
    response_dtype="uint8", input_data_types="int64",
    dataset_class="mlperf_harness.models.sdxl.dataset:CocoCaptions",
    accuracy="mlperf_harness.models.sdxl.accuracy",
    runner="mlperf_harness.models.sdxl.run:run_test",
    standin_scorer="the stand-in image scores CLIP and FID with its tiny stand-in encoders, which would give "
                   "a meaningless CLIP_SCORE and FID_SCORE for a real checkpoint",
    dataset_args={"statistics": ("path", "the FID reference statistics (.npz with mu, sigma; default: "
                                 "val2014.npz in the dataset folder)")})
