"""`base create`: a local Debian base image for machines that cannot pull."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from launcher.build import base_image
from launcher.cli.common import BaseOption, CacheOption, RuntimeOption, SpecOption, handled, open_session
from launcher.errors import UsageError
from launcher.settings import load_config, save_config

base_app = typer.Typer(no_args_is_help=True, help="Base images for machines that cannot pull.")


@base_app.command("create")
@handled
def base_create(
    tag: str = typer.Option(base_image.DEFAULT_TAG, "--tag", help="name of the image to create"),
    suite: str = typer.Option("bookworm", "--suite", help="Debian suite (bookworm has Python 3.11)"),
    mirror: str = typer.Option(base_image.DEFAULT_MIRROR, "--mirror", help="Debian mirror URL"),
    device: str = typer.Option("cpu", "--device", help="device whose base this image becomes with --set-default"),
    set_default: bool = typer.Option(False, "--set-default", help="record it as DEVICE's base in the user config"),
    force: bool = typer.Option(False, "--force", help="recreate even if the image exists"),
    runtime: Optional[str] = RuntimeOption,
    spec_path: Optional[Path] = SpecOption, cache: Optional[Path] = CacheOption, base: Optional[list[str]] = BaseOption,
) -> None:
    """Create a Debian base image with python3 and venv by debootstrap + docker import."""
    session = open_session(spec_path, cache, base, runtime=runtime)
    if device not in session.spec.devices:
        raise UsageError(f"--device {device!r}: expected one of {', '.join(session.spec.devices)}")
    if force or not session.engine.image_exists(tag):
        base_image.create(tag, suite, mirror, cli=session.engine.cli, log=session.say)
        session.say(f"created {tag}")
    else:
        session.say(f"{tag} already exists (use --force to recreate)")
    if set_default:
        config = load_config()
        config.bases[device] = tag
        session.say(f"{device} base is now {tag} in {save_config(config)}")


def register(app: typer.Typer) -> None:
    app.add_typer(base_app, name="base")
