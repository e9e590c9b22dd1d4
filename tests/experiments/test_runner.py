"""`wirelora run` / `wirelora resume`: run directories, shipped configs, one-line errors, kill and resume."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from wirelora.cli import main
from wirelora.experiments.runner import available_configs, load_run_config
from wirelora.learning.history import History

MLP = [
    "--set",
    "trainer.rounds=8",
    "--set",
    "trainer.checkpoint_every=2",
    "--set",
    "oracle.rounds=5",
    "--set",
    "task.train_per_device=16",
    "--set",
    "task.eval_per_device=8",
]


def _env():
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"  # the same float reductions in every process: bit-identical histories
    env["MKL_NUM_THREADS"] = "1"
    return env


def test_shipped_configs_load():
    names = available_configs()
    assert {"leave-only", "long-run", "leave-only-mlp", "leave-only-minilm"} <= set(names)
    assert load_run_config("leave-only-minilm").task.kind == "topics"
    lo = load_run_config("leave-only")
    assert lo.task.num_devices == 6 and lo.model.name == "tiny-lm" and lo.oracle.enabled
    assert [e.round for e in lo.events] == [lo.trainer.rounds - 60]  # K = 60 correction rounds
    lr = load_run_config("long-run")
    assert [(e.round, e.leave, e.join) for e in lr.events] == [
        (200, ("d0",), ()),
        (300, (), ("d6",)),
        (500, ("d1",), ()),
        (700, (), ("d7",)),
    ]
    assert lr.trainer.rounds == 1000


def test_run_writes_directory(tmp_path, capsys):
    out = tmp_path / "r"
    assert (
        main(
            [
                "run",
                "leave-only-mlp",
                *MLP,
                "--set",
                "events=[{round: 4, leave: [d0]}]",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    for name in ("config.json", "history.json", "checkpoint.safetensors", "summary.png"):
        assert (out / name).is_file(), name
    h = History.load(out)
    assert len(h.rounds) == 8 and h.config["trainer"]["rounds"] == 8
    assert h.rounds[4]["members"] == ["d1", "d2", "d3", "d4", "d5"]
    assert h.rounds[5]["oracle_forget_loss"] is not None
    assert "wirelora run: 8 rounds" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no-such-config"], "no such file or shipped config"),
        (["run", "leave-only-mlp", "--set", "trainer.nope=1"], "unknown key trainer.nope"),
        (["run", "leave-only-mlp", "--set", "events=[{round: 5, leave: [d9]}]"], "not a member"),
        (["run", "leave-only-mlp", "--set", "events=[{round: 500, leave: [d0]}]"], "past the last round"),
        (["resume", "/nonexistent/run"], "not a wirelora run directory"),
        (["run", "leave-only", "--set", "trainer.rounds=10"], "--set events=[]"),
        (["run", "leave-only", "--set", "model.ranks.bogus=3"], "model.ranks.bogus=3: not a layer group"),
        (["run", "leave-only", "--set", "task.first_token=500"], "task.first_token=500"),
        (
            ["run", "leave-only", "--set", "model.name=tiny-mlp"],
            "task.kind='facts': model card 'tiny-mlp' has kind 'classifier'",
        ),
        (["run", "leave-only", "--set", "model.name=nosuch"], "no such model card"),
        (["run", "leave-only", "--set", "oracle.cache_dir=/etc/passwd"], "is a file, not a directory"),
        (["run", "leave-only-mlp", "--tensorboard", "/etc/passwd"], "--tensorboard='/etc/passwd': is a file"),
        (["run", "leave-only-mlp", "--quiet", "--tensorboard", "/etc/passwd"], "--tensorboard='/etc/passwd'"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_killed_run_resumes_to_the_same_history(tmp_path):
    """SIGKILL in the middle of round 5 (after the checkpoint of round 3), then `wirelora resume`."""
    args = [*MLP, "--set", "events=[{round: 3, leave: [d2]}]"]
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "wirelora",
            "run",
            "leave-only-mlp",
            *args,
            "--out",
            str(ref),
            "--no-progress",
        ],
        check=True,
        env=_env(),
        capture_output=True,
    )
    script = textwrap.dedent("""
        import os, signal, sys
        from wirelora.experiments.runner import load_run_config, start_run

        class KillInRound5:
            def schedule(self, state, r):
                if r == 5:
                    os.kill(os.getpid(), signal.SIGKILL)

        overrides = [a for a in sys.argv[2:] if a != "--set"]
        start_run(load_run_config("leave-only-mlp", overrides), sys.argv[1], correction=KillInRound5())
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(killed), *args], env=_env(), capture_output=True)
    assert proc.returncode == -9
    partial = History.load(killed)
    assert len(partial.rounds) == 4  # rounds 0..3 were checkpointed; round 4 was lost with the kill
    subprocess.run(
        [sys.executable, "-m", "wirelora", "resume", str(killed), "--no-progress"],
        check=True,
        env=_env(),
        capture_output=True,
    )
    a, b = History.load(ref).without_timing(), History.load(killed).without_timing()
    assert a["rounds"] == b["rounds"]
    assert json.loads((killed / "config.json").read_text())["events"] == [
        {"round": 3, "leave": ["d2"], "join": []}
    ]


def test_leave_only_tiny_lm_smoke(tmp_path):
    """The shipped leave-only config on the tiny language model, shortened: the whole pipeline end to end."""
    out = tmp_path / "lo"
    assert (
        main(
            [
                "run",
                "leave-only",
                "--set",
                "trainer.rounds=8",
                "--set",
                "events=[{round: 5, leave: [d0]}]",
                "--set",
                "oracle.rounds=4",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    h = History.load(out)
    first, last = h.rounds[0], h.rounds[-1]
    assert last["train_loss"] < first["train_loss"]  # it learns
    assert last["forget_loss"] is not None and last["oracle_retain_loss"] is not None
    assert last["members"] == ["d1", "d2", "d3", "d4", "d5"]


def test_metrics_jsonl_follows_the_history_through_a_resume(tmp_path):
    import json

    from wirelora.learning import run
    from wirelora.learning.history import METRICS_FILE

    cfg = load_run_config(
        "leave-only-mlp",
        [
            "trainer.rounds=6",
            "events=[{round: 3, leave: [d0]}]",
            "oracle.enabled=false",
            "trainer.checkpoint_every=2",
        ],
    )
    run(cfg, out_dir=tmp_path, stop_after=3)  # checkpoint after round 3; metrics has rounds 0..3
    lines = (tmp_path / METRICS_FILE).read_text().splitlines()
    assert [json.loads(x)["round"] for x in lines] == [0, 1, 2, 3]
    h = run(cfg, out_dir=tmp_path, resume=True)
    rows = [json.loads(x) for x in (tmp_path / METRICS_FILE).read_text().splitlines()]
    assert [r["round"] for r in rows] == list(range(6))
    assert rows[-1]["retain_loss"] == h.rounds[-1]["retain_loss"]


def test_print_config_prints_the_resolved_config_and_runs_nothing(tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    assert main(["run", "leave-only-correction", "--set", "trainer.rounds=80", "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["trainer"]["rounds"] == 80 and printed["correction"]["method"] == "proposed"
    assert printed == json.loads(
        json.dumps(
            __import__("wirelora.config").config.to_jsonable(
                load_run_config("leave-only-correction", ["trainer.rounds=80"])
            )
        )
    )
    assert list(tmp_path.iterdir()) == []
