"""Stand-in models and datasets: tiny, synthetic, generated on the host with no
download, with the real artefacts' file names and signatures and a known
accuracy, so images and the harness can be tested end to end."""

import argparse
import json
import sys
from pathlib import Path
from typing import Callable


def main(prog: str, description: str, backends, count: tuple[str, int, str], fraction: tuple[str, float, str],
         generate: Callable[..., dict], argv=None) -> int:
    """The command line every generator shares: OUT_DIR, --backend, a size, a known fraction, --seed."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--backend", default="onnxruntime", choices=sorted(backends))
    parser.add_argument(count[0], type=int, default=count[1], help=count[2])
    parser.add_argument(fraction[0], type=float, default=fraction[1], help=fraction[2])
    parser.add_argument("--seed", type=int, default=0)
    args = vars(parser.parse_args(argv))
    size, known = args[count[0].lstrip("-")], args[fraction[0].lstrip("-")]
    try:
        info = generate(args["out_dir"], size, known, args["seed"], backend=args["backend"])
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2))
    return 0
