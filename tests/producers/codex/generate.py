"""Regenerate the Codex conformance data by running the real Codex CLI offline (`make producers`).

Installs `@openai/codex` (pinned) from npm into a private folder outside the
repository, points it at the fake Responses API of `fake_responses.py` on
127.0.0.1, runs `codex exec` then `codex exec resume --last`, and copies what
the CLI wrote (session rollouts, rollout-trace bundles) plus the server's log
(the ground truth) and what Codex's own `codex debug trace-reduce` makes of
each bundle into `data/<version>/`. Tests read only those committed
files, so CI never needs the binary. Under `strace` (when installed) every
`connect()` the CLI makes is logged, and any address other than loopback or a
local socket fails the run: nothing may leave the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.producers.codex.fake_responses import Script, serve

VERSION = "0.171.0"
HERE = Path(__file__).resolve().parent
MODEL = "gpt-5.1-codex"
FIRST_PROMPT = "Compte les lignes de notes.txt, puis vérifie le build et affiche le journal."
RESUME_PROMPT = "Et maintenant, résume en grec."


def _usage(input_tokens: int, cached: int, output_tokens: int, reasoning: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def _reasoning(item_id: str, summary: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": item_id, "summary": [{"type": "summary_text", "text": summary}]}


def _call(item_id: str, call_id: str, cmd: str) -> dict[str, Any]:
    arguments = json.dumps({"cmd": cmd, "yield_time_ms": 10000})
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": "exec_command",
        "arguments": arguments,
        "status": "completed",
    }


def _message(item_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def script() -> list[dict[str, Any]]:
    """The model's side of the conversation: a tool call, two parallel calls (one fails, one is long), answers."""
    return [
        {
            "id": "resp_001_count",
            "output": [
                _reasoning("rs_001", "Je compte d'abord les lignes du fichier."),
                _call("fc_001", "call_wc_001", "wc -l notes.txt"),
            ],
            "usage": _usage(1200, 0, 48, 16),
        },
        {
            "id": "resp_002_parallel",
            "output": [
                _reasoning("rs_002", "Two checks at once: the build (it may fail) and the long log."),
                _call("fc_002", "call_build_002", "echo 'build cassé' >&2; exit 2"),
                _call("fc_003", "call_log_003", "seq 1 1500"),
            ],
            "usage": _usage(1400, 1024, 96, 32),
        },
        {
            "id": "resp_003_answer",
            "output": [
                _message("msg_003", "notes.txt a 3 lignes ; le build a échoué (code 2) ; le journal a 1500 lignes ✓"),
            ],
            "usage": _usage(3100, 1280, 40, 0),
        },
        {
            "id": "resp_004_resumed",
            "output": [
                _reasoning("rs_004", "Summarize the earlier findings in Greek."),
                _message("msg_004", "Περίληψη: 3 γραμμές, το build απέτυχε, 1500 γραμμές καταγραφής. 日本語も OK."),
            ],
            "usage": _usage(3300, 3072, 30, 8),
        },
    ]


def install(prefix: Path) -> Path:
    """The pinned CLI from npm into `prefix` (reused when already there); the path of its launcher."""
    launcher = prefix / "node_modules" / ".bin" / "codex"
    if launcher.exists() and _version(launcher) == VERSION:
        return launcher
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"@openai/codex@{VERSION}"],
        check=True,
    )
    if _version(launcher) != VERSION:
        raise SystemExit(f"npm installed {_version(launcher)!r}, not codex-cli {VERSION}")
    return launcher


def _version(launcher: Path) -> str:
    completed = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, check=False)
    return completed.stdout.strip().removeprefix("codex-cli ")


def config(port: int) -> str:
    """CODEX_HOME/config.toml: the fake provider on loopback, no approvals, no retries, nothing phoning home."""
    return f"""model = "{MODEL}"
model_provider = "fake"
approval_policy = "never"
sandbox_mode = "danger-full-access"
model_reasoning_summary = "detailed"
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
log_user_prompt = false

[model_providers.fake]
name = "Fake Responses API"
base_url = "http://127.0.0.1:{port}/v1"
wire_api = "responses"
env_key = "FAKE_RESPONSES_API_KEY"
request_max_retries = 0
stream_max_retries = 0
"""


def _environment(root: Path, home: Path, traces: Path) -> dict[str, str]:
    """A closed world: private HOME and CODEX_HOME, proxies pointing at a dead loopback port."""
    dead = "http://127.0.0.1:9"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root / "home"),
        "CODEX_HOME": str(home),
        "CODEX_ROLLOUT_TRACE_ROOT": str(traces),
        "FAKE_RESPONSES_API_KEY": "dummy-not-a-key",
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "ALL_PROXY": dead,
        "NO_PROXY": "127.0.0.1,localhost",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "NO_COLOR": "1",
    }


def run_codex(launcher: Path, args: list[str], *, cwd: Path, env: dict[str, str], connects: Path | None) -> str:
    command = [str(launcher), *args]
    if connects is not None:
        command = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(connects), *command]
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"codex {' '.join(args)} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return completed.stdout


def reduced(launcher: Path, bundle: Path, *, env: dict[str, str], scratch: Path) -> dict[str, Any]:
    """What Codex's own reader (`codex debug trace-reduce`) makes of a bundle: its calls, in start order.

    Only what the readers are compared on is kept (the reduced state repeats every payload).
    """
    out = scratch / f"{bundle.name}.state.json"
    completed = subprocess.run(
        [str(launcher), "debug", "trace-reduce", str(bundle), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"codex debug trace-reduce failed:\n{completed.stderr[-4000:]}")
    state = json.loads(out.read_text(encoding="utf-8"))
    terminals = {op["tool_call_id"]: op for op in state["terminal_operations"].values()}
    inferences = sorted(state["inference_calls"].values(), key=lambda call: call["execution"]["started_seq"])
    tools = sorted(state["tool_calls"].values(), key=lambda call: call["execution"]["started_seq"])
    return {
        "schema_version": state["schema_version"],
        "rollout_id": state["rollout_id"],
        "inference_calls": [
            {"response_id": call["response_id"], "status": call["execution"]["status"], "usage": call["usage"]}
            for call in inferences
        ],
        "tool_calls": [
            {
                "call_id": call["model_visible_call_id"],
                "status": call["execution"]["status"],
                "terminal_status": terminals[call["tool_call_id"]]["execution"]["status"],
                "exit_code": terminals[call["tool_call_id"]]["result"]["exit_code"],
            }
            for call in tools
        ],
    }


_ADDRESS = re.compile(r'sin6?_addr=inet_(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"')


def addresses(connects: Path) -> set[str]:
    """Every internet address the CLI tried to reach, loopback included (the fake server must be among them)."""
    found: set[str] = set()
    for line in connects.read_text(encoding="utf-8", errors="replace").splitlines():
        found.update(_ADDRESS.findall(line))
    return found


def generate(target: Path, prefix: Path) -> None:
    launcher = install(prefix)
    script_state = Script(script())
    server = serve(script_state)
    port = server.server_address[1]
    use_strace = shutil.which("strace") is not None
    with tempfile.TemporaryDirectory(prefix="replay-lens-codex-") as scratch:
        root = Path(scratch)
        home, traces, work = root / "codex-home", root / "traces", root / "work"
        for folder in (home, traces, work, root / "home"):
            folder.mkdir()
        (home / "config.toml").write_text(config(port), encoding="utf-8")
        (work / "notes.txt").write_text("première ligne\nzweite Zeile\n第三行\n", encoding="utf-8")
        env = _environment(root, home, traces)
        flags = ["--skip-git-repo-check", "--color", "never", "--strict-config"]
        connects = [root / "connect-1.strace", root / "connect-2.strace"] if use_strace else [None, None]
        try:
            run_codex(launcher, ["exec", *flags, FIRST_PROMPT], cwd=work, env=env, connects=connects[0])
            run_codex(
                launcher, ["exec", *flags, "resume", "--last", RESUME_PROMPT], cwd=work, env=env, connects=connects[1]
            )
        finally:
            server.shutdown()
        reached = {address for log in connects if log is not None for address in addresses(log)}
        if use_strace and "127.0.0.1" not in reached:
            raise SystemExit("strace saw no connection to the fake server: the connect log cannot be trusted")
        remote = sorted(reached - {"127.0.0.1", "::1", "::ffff:127.0.0.1"})
        if remote:
            raise SystemExit(f"the CLI tried to reach {remote}: not offline")
        if script_state.served != len(script_state.responses):
            scripted = len(script_state.responses)
            raise SystemExit(f"the CLI made {script_state.served} model calls, the script has {scripted}")
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copytree(home / "sessions", target / "sessions")
        shutil.copytree(traces, target / "traces")
        truth = {
            "cli_version": VERSION,
            "model": MODEL,
            "prompts": [FIRST_PROMPT, RESUME_PROMPT],
            "workdir": str(work),
            "network_checked_with_strace": use_strace,
            "exchange": script_state.log,
            "codex_trace_reduce": {
                bundle.name: reduced(launcher, bundle, env=env, scratch=root) for bundle in sorted(traces.iterdir())
            },
        }
        (target / "ground_truth.json").write_text(
            json.dumps(truth, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data" / VERSION)
    parser.add_argument(
        "--prefix",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "replay-lens" / f"codex-{VERSION}",
        help="where npm installs the CLI (outside the repository)",
    )
    arguments = parser.parse_args()
    generate(arguments.out.resolve(), arguments.prefix.resolve())
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
