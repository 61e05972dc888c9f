"""Put a trained policy into the package as ``pretrained:<env id>``, with the record that measured it.

The policy folder is loaded first (so only a valid, untampered policy is shipped), must be for the
env it is shipped as, and is copied next to a ``source.json`` naming the experiment record and the
command that rebuilds it. The shipped set must stay small enough for a package: the total size is
printed, and a test keeps it under :data:`MAX_TOTAL_BYTES`.

    python -m benchmarks.ship_pretrained --env DarkKeyToDoor-v0 \\
        --policy runs/experiments/DarkKeyToDoor-v0/policies/ad-steps3000-batched-seed0/policy \\
        --record benchmarks/results/main_results_darkkeytodoor_steps3000_batched.json
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from ad_agent.deployment.policy import InContextPolicy
from ad_agent.deployment.policy_file import CONFIG_FILE, PRETRAINED_DIR, WEIGHTS_FILE

MAX_TOTAL_BYTES = 20 * 2**20
SOURCE_FILE = "source.json"


def shipped_bytes(root: Path = PRETRAINED_DIR) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def ship(env_id: str, policy_dir: Path, record: Path, root: Path = PRETRAINED_DIR) -> Path:
    """Copy ``policy_dir`` to ``root/env_id`` with a ``source.json`` pointing at ``record``."""
    policy = InContextPolicy.load(policy_dir, device="cpu")  # refuses a broken or tampered folder
    if policy.spec.env_id != env_id:
        raise ValueError(f"{policy_dir} is a policy for {policy.spec.env_id}, not {env_id}")
    measured = json.loads(record.read_text())
    if measured.get("env_id") != env_id:
        raise ValueError(f"{record} measures {measured.get('env_id')}, not {env_id}")
    target = root / env_id
    tmp = root / f".{env_id}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        shutil.copy2(policy_dir / name, tmp / name)
    source = {"record": record.name, "command": measured.get("command"), "title": measured.get("title")}
    (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="env id the policy is shipped as")
    parser.add_argument("--policy", type=Path, required=True, help="policy folder to ship")
    parser.add_argument("--record", type=Path, required=True, help="the experiment record that measured it")
    args = parser.parse_args(argv)
    target = ship(args.env, args.policy, args.record)
    print(f"shipped {target}; all shipped policies: {shipped_bytes() / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
