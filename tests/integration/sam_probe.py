"""Run SAM CLI's own code where this machine cannot run the rest of it. Runs under SAM CLI's Python.

``sam local invoke`` needs Docker's bridge network, which not every machine has, and its answers
depend on Docker; what a function is *given* does not. So:

- ``invoke ARGS...`` runs the real ``sam local invoke ARGS...`` (click command, samconfig.toml,
  ``--env-vars`` and ``--parameter-overrides`` parsing, template resolution, and
  ``LocalLambdaRunner._make_env_vars`` -> ``EnvironmentVariables.resolve``) and stops at the one
  call that would start a container, ``samcli.local.lambdafn.runtime.LambdaRuntime.invoke``:
  instead of running the function it writes, as JSON to ``$SAM_PROBE_OUT``, the environment,
  architecture, image and event SAM would have passed it. SAM's container client factory is
  replaced by a stand-in that has no daemon behind it (aws/aws-sam-cli
  ``samcli/local/docker/container_client_factory.py`` ``ContainerClientFactory.create_client``;
  the file observer only subscribes to its ``events``).
- ``dockerfile IMAGE ARCHITECTURE`` prints the Dockerfile SAM generates to add its emulator to an
  image function (``samcli/local/docker/lambda_image.py`` ``LambdaImage._generate_dockerfile``),
  then on a second line what SAM puts beside it in the build context: its ``rapid`` directory
  (the emulator binaries) under the name of the architecture's binary (``tar_paths`` in
  ``LambdaImage._build_image``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


class _Events:
    def __iter__(self) -> Any:
        return iter(())

    def close(self) -> None:
        return None


class _NoDaemon:
    """Where SAM asks for a Docker client: nothing here may reach a daemon."""

    def events(self, *args: Any, **kwargs: Any) -> _Events:
        return _Events()


def _invoke(argv: list[str]) -> int:
    from samcli.cli.main import cli
    from samcli.local.docker import container_client_factory, utils
    from samcli.local.lambdafn import runtime

    def record(self: Any, function_config: Any, event: Any, *args: Any, **kwargs: Any) -> None:
        Path(os.environ["SAM_PROBE_OUT"]).write_text(
            json.dumps(
                {
                    "function": function_config.name,
                    "env": function_config.env_vars.resolve(),
                    "architecture": function_config.architecture,
                    "imageuri": function_config.imageuri,
                    "event": event,
                }
            )
        )

    runtime.LambdaRuntime.invoke = record
    container_client_factory.ContainerClientFactory.create_client = staticmethod(lambda *a, **k: _NoDaemon())
    utils.get_validated_container_client = _NoDaemon
    result: int = cli.main(args=["local", "invoke", *argv], prog_name="sam", standalone_mode=False) or 0
    return result


def _dockerfile(image: str, architecture: str) -> int:
    from samcli.local.docker.lambda_image import LambdaImage
    from samcli.local.docker.utils import get_rapid_name

    print(json.dumps(LambdaImage._generate_dockerfile(image, [], architecture)))
    rapid = str(LambdaImage._RAPID_SOURCE_PATH)
    print(json.dumps({"source": rapid, "name": get_rapid_name(architecture)}))
    return 0


if __name__ == "__main__":
    command, rest = sys.argv[1], sys.argv[2:]
    sys.exit(_invoke(rest) if command == "invoke" else _dockerfile(*rest))
