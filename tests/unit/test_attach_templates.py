"""Attach mode's command templates: parsed at load, filled in without a shell, evidenced."""

from __future__ import annotations

import sys

import pytest

from wiber_harness.cluster.templates import Template, TemplateError, parse_template


def test_a_string_is_split_once_and_a_value_stays_one_argument() -> None:
    t = parse_template("kubectl delete pod {pod} --grace-period=0")
    assert t.words == ("kubectl", "delete", "pod", "{pod}", "--grace-period=0")
    assert not t.shell
    argv = t.render({"pod": "a b; rm -rf /"})
    assert argv == ["kubectl", "delete", "pod", "a b; rm -rf /", "--grace-period=0"]
    assert t.fields() == {"pod"}


def test_a_list_is_the_argv_and_quotes_in_a_string_group_words() -> None:
    assert parse_template(["docker", "kill", "{container}"]).render({"container": "c1"}) == [
        "docker",
        "kill",
        "c1",
    ]
    t = parse_template("ssh {host} 'systemctl kill wiber-consumer@{n}'")
    assert t.render({"host": "h", "n": 2}) == ["ssh", "h", "systemctl kill wiber-consumer@2"]


def test_a_shell_template_quotes_every_value() -> None:
    t = parse_template({"shell": "echo {x} && echo done"})
    assert t.shell
    argv = t.render({"x": "$(touch /tmp/pwned); `id`"})
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[2] == "echo '$(touch /tmp/pwned); `id`' && echo done"
    r = t.run({"x": "$(echo no); `echo no`"}, timeout=10)
    assert r.ok and r.stdout == "$(echo no); `echo no`\ndone\n"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("sh -c 'kill {pid}'", "runs a shell with -c"),
        (["bash", "-c", "kill {pid}"], "runs a shell with -c"),
        ("kill '{pid}", "close its quotes"),
        ("", "is empty"),
        ("{prog} --now", "the program of"),
        ("kill {pid!r}", "format spec"),
        ("kill {0}", "not a field name"),
        ({"shell": "x", "argv": "y"}, "nothing else"),
        (42, "must be a command string"),
        ("x" * 5000, "keep a command under"),
    ],
)
def test_bad_templates_are_refused_with_the_fix(raw: object, says: str) -> None:
    with pytest.raises(TemplateError, match=says):
        parse_template(raw)


def test_a_missing_value_is_an_error_never_an_empty_argument() -> None:
    with pytest.raises(TemplateError, match=r"needs \{pod\}"):
        parse_template("kill {pod}").render({})


def test_run_records_exit_status_output_and_time() -> None:
    ok = Template(words=(sys.executable, "-c", "print('hi {n}')")).run({"n": 1}, timeout=10)
    assert ok.ok and ok.returncode == 0 and ok.stdout == "hi 1\n" and not ok.shell
    assert ok.to_dict()["argv"][-1] == "print('hi 1')"
    bad = Template(words=(sys.executable, "-c", "import sys; sys.exit(3)")).run({}, 10)
    assert bad.returncode == 3 and "exited 3" in bad.why_not()


def test_a_slow_command_is_killed_and_a_missing_one_is_reported() -> None:
    slow = Template(words=(sys.executable, "-c", "import time; time.sleep(5)")).run({}, 0.5)
    assert slow.returncode is None and "did not finish within 0.5 s" in str(slow.error)
    gone = Template(words=("/nonexistent/ctl", "kill")).run({}, 5)
    assert gone.returncode is None and "cannot run" in str(gone.error)
