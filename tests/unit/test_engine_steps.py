
from launcher.engine.docker_engine import BuildRequest, DockerEngine, StepTracker

CLASSIC = """\
Step 5/22 : COPY wheels/ /tmp/wheels/
 ---> Using cache
Step 6/22 : RUN python3 -c 'import sys' && python3 -m venv /opt/venv
 ---> Running in 1234
base image has Python 3.12, images.yaml expects 3.11
The command '/bin/sh -c python3 -c 'import sys'' returned a non-zero code: 1
"""

BUILDKIT = """\
#7 [venv 1/2] COPY wheels/ /tmp/wheels/
#7 DONE 0.1s
#8 [venv 2/2] RUN python3 -m venv /opt/venv
#9 [resnet50 1/3] COPY models/resnet50/ /opt/mlperf/model/
#9 DONE 0.2s
#8 0.512 base image has Python 3.12
#8 ERROR: process "/bin/sh -c python3 -m venv /opt/venv" did not complete successfully: exit code: 1
"""


def feed(text):
    tracker = StepTracker()
    started = [s for s in (tracker.feed(line) for line in text.splitlines()) if s]
    return tracker, started


def test_classic_failing_step():
    tracker, started = feed(CLASSIC)
    assert started == ["step 5/22: COPY wheels/ /tmp/wheels/",
                       "step 6/22: RUN python3 -c 'import sys' && python3 -m venv /opt/venv"]
    assert tracker.failing_step().startswith("step 6/22: RUN python3")
    assert "returned a non-zero code: 1" in tracker.last_error


def test_buildkit_failing_step_is_the_errored_one_not_the_last_started():
    tracker, started = feed(BUILDKIT)
    assert len(started) == 3
    assert tracker.failing_step() == "[venv 2/2] RUN python3 -m venv /opt/venv"


def test_build_command_per_builder(tmp_path):
    request = BuildRequest(context=tmp_path, dockerfile=tmp_path / "Dockerfile", target="resnet50", tag="a/b:c",
                           build_args={"BASE_IMAGE": "x"}, network="none")
    args, env = DockerEngine(cli="docker", builder="classic").build_command(request)
    assert env["DOCKER_BUILDKIT"] == "0"
    assert args[:2] == ["docker", "build"] and args[-1] == str(tmp_path)
    assert ["--target", "resnet50"] == args[args.index("--target"):args.index("--target") + 2]
    assert "--network" in args and "BASE_IMAGE=x" in args
    args, env = DockerEngine(cli="/usr/bin/docker", builder="buildkit").build_command(request)
    assert env["DOCKER_BUILDKIT"] == "1" and "--progress=plain" in args
    args, _ = DockerEngine(cli="docker", builder="buildx").build_command(request)
    assert args[:4] == ["docker", "buildx", "build", "--load"]
