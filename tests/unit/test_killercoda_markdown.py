"""Killercoda's Markdown markers: what the learner reads, and the code that `{{exec}}` would run."""

from __future__ import annotations

from engine.course.killercoda.markdown import ExecBlock, convert_markdown, relink


def test_a_fenced_exec_block_stays_code_and_becomes_a_command() -> None:
    text = "Create it:\n\n```bash\nkubectl create namespace shop\n```{{exec}}\n\nDone.\n"
    result = convert_markdown(text)
    assert result.text == "Create it:\n\n```bash\nkubectl create namespace shop\n```\n\nDone.\n"
    assert result.blocks == [ExecBlock("kubectl create namespace shop")]
    assert result.notes == []


def test_inline_and_fenced_exec_code_is_collected_in_reading_order() -> None:
    text = "First `kubectl get nodes`{{exec}}, then:\n```\nkubectl get pods\n```{{exec}}\nand `kubectl get svc`{{exec}}"
    result = convert_markdown(text)
    assert [block.code for block in result.blocks] == ["kubectl get nodes", "kubectl get pods", "kubectl get svc"]
    assert "{{" not in result.text
    assert "First `kubectl get nodes`, then:" in result.text


def test_exec_interrupt_is_remembered() -> None:
    result = convert_markdown("`kubectl get pods`{{exec interrupt}}")
    assert result.blocks == [ExecBlock("kubectl get pods", interrupt=True)]
    assert result.text == "`kubectl get pods`"


def test_copy_and_empty_markers_keep_the_code_and_run_nothing() -> None:
    text = "`kubectl delete ns shop`{{copy}} and `no copy`{{}}\n\n```\nkubectl get ns\n```{{copy}}\n"
    result = convert_markdown(text)
    assert result.blocks == []
    assert result.text == "`kubectl delete ns shop` and `no copy`\n\n```\nkubectl get ns\n```\n"


def test_a_block_nested_in_a_list_loses_its_indentation_in_the_command() -> None:
    text = "1. Apply it:\n   ```\n   kubectl apply -f web.yaml\n     # indented comment\n   ```{{exec}}\n"
    result = convert_markdown(text)
    assert result.blocks == [ExecBlock("kubectl apply -f web.yaml\n  # indented comment")]
    assert result.text.splitlines()[-1] == "   ```"


def test_the_older_execute_marker_counts_as_exec() -> None:
    assert convert_markdown("`ls`{{execute}}").blocks == [ExecBlock("ls")]


def test_a_second_terminal_and_unknown_markers_are_noted() -> None:
    result = convert_markdown("`top`{{exec T2}} and `app.yaml`{{open}}")
    assert result.blocks == [ExecBlock("top")]
    assert any("terminal 2" in note and "one terminal" in note for note in result.notes)
    assert any("{{open}}" in note and "no equivalent" in note for note in result.notes)
    assert result.text == "`top` and `app.yaml`"


def test_an_unclosed_fence_is_left_alone() -> None:
    text = "```\nkubectl get pods\n"
    result = convert_markdown(text)
    assert result.text == text
    assert result.blocks == []


def test_a_fence_closes_only_with_the_same_character() -> None:
    text = "~~~\n```{{exec}}\nstill code\n~~~\n"
    result = convert_markdown(text)
    assert result.blocks == []
    assert result.text == text


def test_go_templates_in_code_are_not_markers() -> None:
    text = "`kubectl get pods -o go-template='{{range .items}}{{.metadata.name}}{{end}}'`{{exec}}"
    result = convert_markdown(text)
    assert result.notes == []
    assert result.blocks == [ExecBlock("kubectl get pods -o go-template='{{range .items}}{{.metadata.name}}{{end}}'")]


def test_port_links_point_at_the_loopback_and_the_port_tab_is_dropped() -> None:
    text = (
        "Open [the app]({{TRAFFIC_HOST1_30080}}) or [any port]({{TRAFFIC_SELECTOR}}).\n"
        "`curl {{TRAFFIC_HOST1_30080}}`{{exec}}"
    )
    result = convert_markdown(text)
    assert result.text.splitlines()[0] == "Open [the app](http://127.0.0.1:30080) or any port."
    assert result.blocks == [ExecBlock("curl http://127.0.0.1:30080")]
    assert any("http://127.0.0.1:30080" in note for note in result.notes)
    assert any("TRAFFIC_SELECTOR" in note for note in result.notes)


def test_unknown_killercoda_variables_are_noted_and_kept() -> None:
    result = convert_markdown("Your host is {{HOST_NAME}}.")
    assert result.text == "Your host is {{HOST_NAME}}."
    assert result.notes == ["the marker {{HOST_NAME}} has no equivalent in driftlab; left as is"]


def test_relink_changes_links_images_and_img_tags() -> None:
    text = '![logo](./assets/logo.png) [docs](https://k8s.io) <img src="img/a.png" width=3>'
    changed = relink(text, lambda target: None if target.startswith("http") else f"../../{target.lstrip('./')}")
    assert changed == '![logo](../../assets/logo.png) [docs](https://k8s.io) <img src="../../img/a.png" width=3>'
