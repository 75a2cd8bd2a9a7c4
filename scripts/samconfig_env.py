"""What ``sam deploy --config-env ENV`` needs from CI, read from samconfig.toml.

``--parameter-overrides`` on the command line replaces samconfig's ``parameter_overrides``
rather than adding to it, so CI cannot pass just the secret's ARN. This prints the environment's
own overrides with ``LarkSecretArn`` appended (from the ``LARK_SECRET_ARN`` variable, which each
GitHub environment holds), or the stack name. One source of truth: samconfig.toml.

    python scripts/samconfig_env.py parameter-overrides dev
    python scripts/samconfig_env.py stack-name prod
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$")  # as template.yaml


class ConfigEnvError(RuntimeError):
    pass


def deploy_parameters(config: Mapping[str, Any], env: str) -> Mapping[str, Any]:
    section = config.get(env, {}).get("deploy", {}).get("parameters")
    if not isinstance(section, Mapping):
        known = sorted(
            name for name, value in config.items() if isinstance(value, Mapping) and "deploy" in value
        )
        raise ConfigEnvError(
            f"samconfig.toml has no [{env}.deploy.parameters]; environments: {', '.join(known)}"
        )
    return section


def parameter_overrides(config: Mapping[str, Any], env: str, secret_arn: str | None) -> str:
    if not secret_arn:
        raise ConfigEnvError("LARK_SECRET_ARN is not set; the template's LarkSecretArn parameter needs it")
    if not SECRET_ARN.match(secret_arn):
        raise ConfigEnvError(
            "LARK_SECRET_ARN is not a Secrets Manager secret ARN (arn:aws:secretsmanager:...)"
        )
    overrides = str(deploy_parameters(config, env).get("parameter_overrides", "")).strip()
    if "LarkSecretArn=" in overrides:
        raise ConfigEnvError(f"[{env}.deploy.parameters] must not hard-code LarkSecretArn; CI supplies it")
    return f"{overrides} LarkSecretArn={secret_arn}".strip()


def stack_name(config: Mapping[str, Any], env: str) -> str:
    name = deploy_parameters(config, env).get("stack_name")
    if not name:
        raise ConfigEnvError(f"[{env}.deploy.parameters] has no stack_name")
    return str(name)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("parameter-overrides", "stack-name"):
        print("usage: samconfig_env.py parameter-overrides|stack-name ENV", file=sys.stderr)
        return 2
    command, env = args
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    try:
        if command == "stack-name":
            print(stack_name(config, env))
        else:
            print(parameter_overrides(config, env, environ.get("LARK_SECRET_ARN")))
    except ConfigEnvError as exc:
        print(f"samconfig_env: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
