"""sdxl's launcher side: a user's checkpoint (--model DIR) is never scored by the stand-in image's tiny
CLIP and FID encoders. In accuracy mode (or both) the stand-in image refuses it with one line before
anything is written, naming --real; performance mode runs it (no scoring)."""

from __future__ import annotations

import pytest

from launcher.errors import UsageError
from launcher.run.options import RunOptions
from launcher.run.plan import make_plan
from launcher.session import Session
from launcher.spec.variation import parse_variation
from unit_support import cli

VARIATION = "_pytorch,_cpu,_sdxl"


@pytest.fixture(scope="module")
def session():
    return Session.open()


@pytest.mark.parametrize("mode", ["accuracy", "both"])
def test_standin_image_refuses_a_users_checkpoint_in_accuracy_mode(session, tmp_path, mode):
    checkpoint = tmp_path / "sdxl-checkpoint"
    checkpoint.mkdir()
    (checkpoint / "model_index.json").write_text("{}")
    variation = parse_variation(VARIATION, session.spec)
    with pytest.raises(UsageError, match=r"accuracy mode: the stand-in image scores CLIP and FID .*use --real"):
        make_plan(session, variation, RunOptions.of(output_dir=tmp_path / "out", custom_model=checkpoint, mode=mode))
    performance = make_plan(session, variation, RunOptions.of(output_dir=tmp_path / "out", custom_model=checkpoint,
                                                              mode="performance"))
    assert performance.benchmark.model_path.endswith("sdxl-checkpoint")
    # its own stand-in checkpoint is scored by its own encoders
    assert make_plan(session, variation, RunOptions.of(output_dir=tmp_path / "out", mode=mode))


def test_refusal_on_the_command_line_writes_nothing(tmp_path):
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "model_index.json").write_text("{}")
    proc = cli("run", "--variation", VARIATION, "--model", checkpoint, "--mode", "both",
               "--output_dir", tmp_path / "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: --model {checkpoint} in accuracy mode: ") and "--real" in line, line
    assert not (tmp_path / "out").exists()
