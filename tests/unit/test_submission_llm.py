"""`submission generate` for the LLMs: a llama2-70b-interactive-99 run (its Server run under LoadGen's
llama2-70b-interactive key) lands as the pinned checker (v6.1) names it, llama2-70b-99/Interactive, with
its TEST06 folder (verify_accuracy.txt with the reference's lines, the logged responses)."""

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from submission_fixtures import HOST, SYSTEM, USER_YAML, make_run  # noqa: E402
from unit_support import cli  # noqa: E402

from launcher.run.lifecycle import write_complete  # noqa: E402
from launcher.submission import generate as gen  # noqa: E402
from launcher.submission.runs import checker_names  # noqa: E402

VERIFY = "First token check pass: True\nEOS check pass: True\nSample length check pass: True\n" \
         "samples checked = 4\nTEST06 verification complete\n"


def test_checker_names():
    assert checker_names("llama2-70b-interactive-99", "Server") == ("llama2-70b-99", "Interactive")
    assert checker_names("llama2-70b-interactive-99.9", "Server") == ("llama2-70b-99.9", "Interactive")
    assert checker_names("llama2-70b-99", "Server") == ("llama2-70b-99", "Server")
    assert checker_names("resnet50", "Offline") == ("resnet50", "Offline")


def test_interactive_run_lands_as_the_checker_names_it(tmp_path):
    run = make_run(tmp_path / "runs", scenarios=("Server",), audits=())
    base = run / SYSTEM / "llama2-70b-interactive-99" / "Server"
    shutil.move(run / SYSTEM / "resnet50", run / SYSTEM / "llama2-70b-interactive-99")
    (base / "TEST06" / "accuracy").mkdir(parents=True)
    (base / "TEST06" / "verify_accuracy.txt").write_text(VERIFY)
    (base / "TEST06" / "audit.config").write_text("*.*.mode = 2\n")
    (base / "TEST06" / "accuracy" / "mlperf_log_accuracy.json").write_text(json.dumps(
        [{"seq_id": 0, "qsl_idx": 1, "data": "02000000", "token_data": "02000000", "token_count": 1}]))
    write_complete(run, ("Server",), "both")
    yaml_file = tmp_path / "system.yaml"
    yaml_file.write_text(USER_YAML)
    said = []
    root = gen.generate([run], tmp_path / "sub", yaml_file, host=HOST, say=said.append)
    dest = root / "results" / SYSTEM / "llama2-70b-99" / "Interactive"
    assert (dest / "TEST06" / "verify_accuracy.txt").read_text() == VERIFY
    assert json.loads((dest / "TEST06" / "accuracy" / "mlperf_log_accuracy.json").read_text())[0]["token_count"] == 1
    assert not (dest / "TEST06" / "audit.config").exists()
    assert not (root / "results" / SYSTEM / "llama2-70b-interactive-99").exists()
    assert "- TEST06: accuracy PASS" in (dest / "README.md").read_text()
    assert said[0].startswith(f"{SYSTEM}/llama2-70b-99/Interactive: ") and said[0].endswith("TEST06")


def test_interactive_test06_reaches_the_harness_in_the_llama2_image(tmp_path):
    proc = cli("run", "--dry-run", "-v", "_pytorch,_cpu,_llama2-70b-interactive-99.9", "--scenario", "Server",
               "--mode", "performance", "--compliance", "TEST06", "--output_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ":llama2-70b-99.9-fp32-standin --model llama2-70b-interactive-99.9 " in proc.stdout
    assert proc.stdout.strip().endswith("--compliance TEST06")
    proc = cli("run", "--dry-run", "-v", "_pytorch,_cpu,_llama2-70b-interactive-99", "--output_dir", tmp_path)
    assert proc.returncode == 2 and "runs Server only" in proc.stderr  # Offline: llama2-70b's own
