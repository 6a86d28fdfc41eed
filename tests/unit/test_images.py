from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.cluster.embedded.workloads import (
    CatalogueError,
    ConfigProblem,
    ImageBehaviour,
    InvalidImageReference,
    NotListening,
    PullFailure,
    StaticLookup,
    load_catalogue,
    parse_catalogue,
    parse_image_reference,
    parse_template,
)

START = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def behaviour(catalogue, image: str) -> ImageBehaviour:
    result = catalogue.resolve(image)
    assert isinstance(result, ImageBehaviour), result
    return result


def pod(name: str = "web-5d8f7c9b4-x7k2p", namespace: str = "default", **spec) -> dict:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "0f3c",
            "labels": {"app": "web", "tier": "front"},
        },
        "spec": {"nodeName": "driftlab-control-plane", "serviceAccountName": "default", **spec},
        "status": {"podIP": "10.244.0.7", "hostIP": "172.18.0.2"},
    }


def configmap(name: str, namespace: str = "default", **data: str) -> dict:
    return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def secret(name: str, namespace: str = "default", **data: str) -> dict:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return {"kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": encoded}


def texts(plan, until: float = 60.0) -> list[str]:
    return [line.text for line in plan.logs(until, started_at=START)]


# -- image references ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "name", "tag", "digest", "full"),
    [
        ("nginx", "docker.io/library/nginx", None, None, "docker.io/library/nginx:latest"),
        ("nginx:1.25", "docker.io/library/nginx", "1.25", None, "docker.io/library/nginx:1.25"),
        (
            "docker.io/library/nginx:1.25",
            "docker.io/library/nginx",
            "1.25",
            None,
            "docker.io/library/nginx:1.25",
        ),
        ("index.docker.io/nginx", "docker.io/library/nginx", None, None, "docker.io/library/nginx:latest"),
        ("docker.io/nginx", "docker.io/library/nginx", None, None, "docker.io/library/nginx:latest"),
        ("bitnami/redis:7.2", "docker.io/bitnami/redis", "7.2", None, "docker.io/bitnami/redis:7.2"),
        (
            "ghcr.io/driftlab/podinfo:1.0.0",
            "ghcr.io/driftlab/podinfo",
            "1.0.0",
            None,
            "ghcr.io/driftlab/podinfo:1.0.0",
        ),
        ("localhost:5000/app", "localhost:5000/app", None, None, "localhost:5000/app:latest"),
        ("localhost/app:v1", "localhost/app", "v1", None, "localhost/app:v1"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause", "3.10", None, "registry.k8s.io/pause:3.10"),
        ("Example.com/team/app", "Example.com/team/app", None, None, "Example.com/team/app:latest"),
        (
            "nginx@sha256:" + "a" * 64,
            "docker.io/library/nginx",
            None,
            "sha256:" + "a" * 64,
            "docker.io/library/nginx@sha256:" + "a" * 64,
        ),
        (
            "nginx:1.25@sha256:" + "b" * 64,
            "docker.io/library/nginx",
            "1.25",
            "sha256:" + "b" * 64,
            "docker.io/library/nginx:1.25@sha256:" + "b" * 64,
        ),
    ],
)
def test_image_references_are_normalised_like_the_kubelet(image, name, tag, digest, full) -> None:
    reference = parse_image_reference(image)
    assert (reference.name, reference.tag, reference.digest, str(reference)) == (name, tag, digest, full)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("NGINX", "invalid reference format: repository name (library/NGINX) must be lowercase"),
        ("team/App:1", "invalid reference format: repository name (team/App) must be lowercase"),
        ("nginx:", "invalid reference format"),
        ("nginx:1.25 ", "invalid reference format"),
        ("-nginx", "invalid reference format"),
        ("nginx@sha256:abc", "invalid reference format"),
        ("nginx@sha256:" + "a" * 40, "invalid checksum digest length"),
        ("nginx@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("a" * 64, "invalid repository name (" + "a" * 64 + "), cannot specify 64-byte hexadecimal strings"),
        ("nginx:" + "x" * 129, "invalid reference format"),
    ],
)
def test_invalid_image_references_give_the_runtime_messages(image: str, message: str) -> None:
    with pytest.raises(InvalidImageReference) as caught:
        parse_image_reference(image)
    assert str(caught.value) == message


def test_an_invalid_image_name_is_an_InvalidImageName_pull_failure(catalogue) -> None:
    failure = catalogue.resolve("NGINX")
    assert isinstance(failure, PullFailure)
    assert failure.reason == "InvalidImageName"
    assert not failure.retryable
    assert failure.message == (
        'Failed to apply default image tag "NGINX": couldn\'t parse image name "NGINX": '
        "invalid reference format: repository name (library/NGINX) must be lowercase"
    )
    assert failure.event_reason == "InspectFailed"


# -- pulling: strict repositories, tag patterns, digests -----------------------------------------------------


def test_an_unknown_tag_in_a_strict_repository_fails_with_the_kubelet_messages(catalogue) -> None:
    failure = catalogue.resolve("ghcr.io/driftlab/podinfo:1.2.0")
    assert isinstance(failure, PullFailure)
    error = (
        'rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/driftlab/podinfo:1.2.0": '
        "failed to resolve image: ghcr.io/driftlab/podinfo:1.2.0: not found"
    )
    assert failure.reason == "ErrImagePull"
    assert failure.retryable
    assert failure.message == error
    assert failure.event_reason == "Failed"
    assert failure.event_message == f'Failed to pull image "ghcr.io/driftlab/podinfo:1.2.0": {error}'
    assert failure.pulling_message == 'Pulling image "ghcr.io/driftlab/podinfo:1.2.0"'
    assert failure.backoff_message == f'Back-off pulling image "ghcr.io/driftlab/podinfo:1.2.0": ErrImagePull: {error}'
    assert failure.backoff_event_message == 'Back-off pulling image "ghcr.io/driftlab/podinfo:1.2.0"'


def test_a_missing_tag_names_the_normalised_reference_and_the_default_tag(catalogue) -> None:
    failure = catalogue.resolve("ghcr.io/driftlab/podinfo")
    assert isinstance(failure, PullFailure)
    assert failure.event_message.startswith('Failed to pull image "ghcr.io/driftlab/podinfo": ')
    assert failure.message.endswith("failed to resolve image: ghcr.io/driftlab/podinfo:latest: not found")
    typo = catalogue.resolve("nginx:1.999")
    assert isinstance(typo, PullFailure)
    assert typo.message == (
        'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:1.999": '
        "failed to resolve image: docker.io/library/nginx:1.999: not found"
    )


@pytest.mark.parametrize("image", ["nginx", "nginx:1.14.2", "nginx:1.27-alpine", "docker.io/library/nginx:stable"])
def test_nginx_is_not_strict_so_real_looking_tags_pull(catalogue, image: str) -> None:
    assert isinstance(catalogue.resolve(image), ImageBehaviour)


@pytest.mark.parametrize("image", ["nginx:lates", "nginx:1.999", "busybox:9"])
def test_tags_outside_the_pattern_of_a_lenient_repository_fail(catalogue, image: str) -> None:
    assert isinstance(catalogue.resolve(image), PullFailure)


def test_known_tags_report_version_image_and_stable_image_id(catalogue) -> None:
    podinfo = behaviour(catalogue, "ghcr.io/driftlab/podinfo:1.1.0")
    assert podinfo.version == "1.1.0"
    assert podinfo.image == "ghcr.io/driftlab/podinfo:1.1.0"
    assert podinfo.image_id.startswith("ghcr.io/driftlab/podinfo@sha256:")
    assert podinfo.image_id == behaviour(load_catalogue(), "ghcr.io/driftlab/podinfo:1.1.0").image_id
    assert podinfo.image_id != behaviour(catalogue, "ghcr.io/driftlab/podinfo:1.0.0").image_id


def test_aliases_are_the_same_image_and_report_the_real_version(catalogue) -> None:
    latest = behaviour(catalogue, "nginx")
    pinned = behaviour(catalogue, "nginx:1.27.3")
    assert latest.version == "1.27.3"
    assert latest.image == "docker.io/library/nginx:latest"
    assert latest.image_id == pinned.image_id


def test_an_image_id_digest_pulls_the_same_tag(catalogue) -> None:
    podinfo = behaviour(catalogue, "ghcr.io/driftlab/podinfo:2.0.0")
    by_digest = behaviour(catalogue, "ghcr.io/driftlab/podinfo@" + podinfo.digest)
    assert by_digest.version == "2.0.0"
    assert by_digest.image == "ghcr.io/driftlab/podinfo@" + podinfo.digest
    unknown = catalogue.resolve("ghcr.io/driftlab/podinfo@sha256:" + "c" * 64)
    assert isinstance(unknown, PullFailure)
    assert unknown.message.endswith(f"ghcr.io/driftlab/podinfo@sha256:{'c' * 64}: not found")


def test_images_outside_the_catalogue_start_log_and_answer_200(catalogue) -> None:
    generic = behaviour(catalogue, "quay.io/acme/billing:3.1")
    assert not generic.known
    assert generic.version == "3.1"
    plan = generic.plan({"name": "billing"}, pod("billing-0"), StaticLookup())
    assert plan.exit is None
    assert texts(plan) == [
        "quay.io/acme/billing:3.1: started. This image is not in the image catalogue, so it runs as a "
        "generic workload: it stays running and answers HTTP 200 on any port."
    ]
    assert generic.http_response("billing-0", {}, {}, port=4321) == (
        200,
        "Hello from billing-0 (quay.io/acme/billing:3.1)\n",
    )


def test_pull_event_messages(catalogue) -> None:
    nginx = behaviour(catalogue, "nginx:1.25")
    assert nginx.pulling_message == 'Pulling image "nginx:1.25"'
    assert nginx.pulled_message(1.2345, 1.5).startswith(
        'Successfully pulled image "nginx:1.25" in 1.234s (1.5s including waiting). Image size: '
    )
    assert nginx.present_message == 'Container image "nginx:1.25" already present on machine'


# -- what keeps a container from starting --------------------------------------------------------------------


def color_from(name: str = "settings", key: str = "color", **extra) -> dict:
    return {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": name, "key": key, **extra}}}


@pytest.mark.parametrize(
    ("env", "env_from", "objects", "message"),
    [
        ([color_from()], [], [], 'configmap "settings" not found'),
        (
            [color_from()],
            [],
            [configmap("settings", colour="blue")],
            "couldn't find key color in ConfigMap default/settings",
        ),
        (
            [color_from()],
            [],
            [configmap("settings", namespace="other", color="blue")],
            'configmap "settings" not found',
        ),
        (
            [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
            [],
            [],
            'secret "db" not found',
        ),
        (
            [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
            [],
            [secret("db", user="app")],
            "couldn't find key password in Secret default/db",
        ),
        ([], [{"configMapRef": {"name": "app-env"}}], [], 'configmap "app-env" not found'),
        ([], [{"secretRef": {"name": "app-secrets"}}], [], 'secret "app-secrets" not found'),
    ],
)
def test_missing_config_gives_CreateContainerConfigError_with_the_real_message(
    catalogue, env, env_from, objects, message
) -> None:
    container = {"name": "app", "image": "ghcr.io/driftlab/podinfo:2.0.0", "env": env, "envFrom": env_from}
    problem = behaviour(catalogue, "ghcr.io/driftlab/podinfo:2.0.0").start_check(
        container, pod(), StaticLookup(objects)
    )
    assert problem == ConfigProblem("CreateContainerConfigError", message)
    assert problem.waiting_reason == "CreateContainerConfigError"
    assert problem.event_reason == "Failed"
    assert problem.event_message == f"Error: {message}"


def test_optional_references_do_not_block_the_start(catalogue) -> None:
    container = {
        "name": "app",
        "env": [
            color_from(optional=True),
            {
                "name": "TOKEN",
                "valueFrom": {"secretKeyRef": {"name": "api", "key": "token", "optional": True}},
            },
        ],
        "envFrom": [{"configMapRef": {"name": "nothing", "optional": True}}],
    }
    podinfo = behaviour(catalogue, "ghcr.io/driftlab/podinfo:1.0.0")
    lookup = StaticLookup([configmap("settings", other="x")])
    assert podinfo.start_check(container, pod(), lookup) is None
    env = podinfo.environment(container, pod(), lookup)
    assert "COLOR" not in env
    assert "TOKEN" not in env


def test_creating_the_configmap_lets_the_container_start(catalogue) -> None:
    podinfo = behaviour(catalogue, "ghcr.io/driftlab/podinfo:2.0.0")
    container = {"name": "app", "env": [color_from()]}
    assert podinfo.start_check(container, pod(), StaticLookup()) is not None
    assert podinfo.start_check(container, pod(), StaticLookup([configmap("settings", color="teal")])) is None


def volume_pod(volume: dict, mount_path: str = "/etc/podinfo", **mount) -> tuple[dict, dict]:
    container = {"name": "app", "volumeMounts": [{"name": "config", "mountPath": mount_path, **mount}]}
    return container, pod(volumes=[{"name": "config", **volume}], containers=[container])


@pytest.mark.parametrize(
    ("volume", "objects", "message"),
    [
        ({"configMap": {"name": "settings"}}, [], 'configmap "settings" not found'),
        (
            {"configMap": {"name": "settings", "items": [{"key": "color", "path": "color"}]}},
            [configmap("settings", message="hi")],
            "configmap references non-existent config key: color",
        ),
        ({"secret": {"secretName": "tls"}}, [], 'secret "tls" not found'),
        (
            {"secret": {"secretName": "tls", "items": [{"key": "tls.key", "path": "key.pem"}]}},
            [secret("tls", **{"tls.crt": "cert"})],
            "references non-existent secret key: tls.key",
        ),
        ({"projected": {"sources": [{"configMap": {"name": "a"}}]}}, [], 'configmap "a" not found'),
    ],
)
def test_a_volume_that_cannot_be_set_up_is_FailedMount(catalogue, volume, objects, message) -> None:
    container, spec = volume_pod(volume)
    problem = behaviour(catalogue, "nginx").start_check(container, spec, StaticLookup(objects))
    assert problem == ConfigProblem("FailedMount", message, volume="config")
    assert problem.waiting_reason == "ContainerCreating"
    assert problem.event_message == f'MountVolume.SetUp failed for volume "config" : {message}'


def test_optional_and_unmounted_volumes_mount_without_error(catalogue) -> None:
    nginx = behaviour(catalogue, "nginx")
    container, spec = volume_pod({"configMap": {"name": "settings", "optional": True}})
    assert nginx.start_check(container, spec, StaticLookup()) is None
    unused = pod(volumes=[{"name": "spare", "secret": {"secretName": "missing"}}])
    assert nginx.start_check({"name": "web"}, unused, StaticLookup()) is None


def test_volumes_are_checked_before_env(catalogue) -> None:
    container, spec = volume_pod({"configMap": {"name": "files"}})
    container["env"] = [color_from()]
    problem = behaviour(catalogue, "nginx").start_check(container, spec, StaticLookup())
    assert problem is not None and problem.reason == "FailedMount"


@pytest.mark.parametrize(
    ("image", "pod_context", "container_context", "message"),
    [
        ("nginx", {"runAsNonRoot": True}, {}, "container has runAsNonRoot and image will run as root"),
        ("nginx", {"runAsNonRoot": True, "runAsUser": 0}, {}, "container's runAsUser breaks non-root policy"),
        ("nginx", {"runAsNonRoot": True}, {"runAsUser": 101}, None),
        ("nginx", {}, {"runAsNonRoot": False}, None),
        ("ghcr.io/driftlab/podinfo:1.0.0", {"runAsNonRoot": True}, {}, None),
    ],
)
def test_run_as_non_root_is_checked_against_the_image_user(
    catalogue, image, pod_context, container_context, message
) -> None:
    container = {"name": "web", "securityContext": container_context}
    spec = pod(securityContext=pod_context)
    problem = behaviour(catalogue, image).start_check(container, spec, StaticLookup())
    if message is None:
        assert problem is None
    else:
        assert problem == ConfigProblem(
            "CreateContainerConfigError",
            f'{message} (pod: "web-5d8f7c9b4-x7k2p_default(0f3c)", container: web)',
        )


def test_a_non_numeric_image_user_cannot_be_verified() -> None:
    custom = parse_catalogue("- name: acme/app\n  default:\n    user: app\n")
    app = custom.resolve("acme/app:1")
    assert isinstance(app, ImageBehaviour)
    problem = app.start_check({"name": "a"}, pod(securityContext={"runAsNonRoot": True}), StaticLookup())
    assert problem is not None
    assert problem.message.startswith("container has runAsNonRoot and image has non-numeric user (app), cannot verify")


# -- environment ---------------------------------------------------------------------------------------------


def test_environment_resolution_follows_the_kubelet(catalogue) -> None:
    container = {
        "name": "app",
        "envFrom": [
            {"configMapRef": {"name": "app-env"}, "prefix": "APP_"},
            {"secretRef": {"name": "creds"}},
        ],
        "env": [
            {"name": "GREETING", "value": "hello"},
            {"name": "MESSAGE", "value": "$(GREETING) from $(POD_NAME) $(UNKNOWN) $$(GREETING) $(APP_MODE)"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "LATE", "value": "$(POD_NAME)"},
            {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
            {"name": "APP_MODE", "value": "override"},
            {
                "name": "MEMORY_MB",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
            {"name": "EMPTY", "value": ""},
            {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}},
        ],
        "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "250m"}},
    }
    lookup = StaticLookup(
        [
            configmap("app-env", MODE="prod"),
            secret("creds", DB_PASSWORD="s3cr3t"),
            configmap("settings", color="blue"),
        ]
    )
    nginx = behaviour(catalogue, "nginx:1.25")
    env = nginx.environment(
        container, pod(), lookup, pod_ip="10.244.0.42", service_env={"KUBERNETES_SERVICE_HOST": "10.96.0.1"}
    )
    assert env["GREETING"] == "hello"
    assert env["MESSAGE"] == "hello from $(POD_NAME) $(UNKNOWN) $(GREETING) prod"
    assert env["LATE"] == "web-5d8f7c9b4-x7k2p"
    assert env["POD_NAME"] == "web-5d8f7c9b4-x7k2p"
    assert env["NAMESPACE"] == "default"
    assert env["POD_IP"] == "10.244.0.42"
    assert env["NODE"] == "driftlab-control-plane"
    assert env["TIER"] == "front"
    assert env["APP_MODE"] == "override"
    assert env["DB_PASSWORD"] == "s3cr3t"
    assert env["MEMORY_MB"] == "128"
    assert env["CPU"] == "250"
    assert env["EMPTY"] == ""
    assert env["COLOR"] == "blue"
    assert env["HOSTNAME"] == "web-5d8f7c9b4-x7k2p"
    assert env["NGINX_VERSION"] == "1.25.5"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"


def test_config_values_come_from_key_refs_and_mounted_files(catalogue) -> None:
    container, spec = volume_pod({"configMap": {"name": "files"}})
    container["env"] = [color_from()]
    lookup = StaticLookup([configmap("files", message="from a file"), configmap("settings", color="green")])
    podinfo = behaviour(catalogue, "ghcr.io/driftlab/podinfo:1.0.0")
    assert podinfo.config_values(container, spec, lookup) == {"message": "from a file", "color": "green"}
    files = podinfo.files(container, spec, lookup)
    assert files["/etc/podinfo/message"] == "from a file"


def test_files_honour_items_subpath_and_shadow_the_image(catalogue) -> None:
    nginx = behaviour(catalogue, "nginx")
    lookup = StaticLookup([configmap("site", **{"index.html": "<h1>v2</h1>", "extra.txt": "x"})])
    container, spec = volume_pod(
        {"configMap": {"name": "site", "items": [{"key": "index.html", "path": "pages/home.html"}]}},
        mount_path="/usr/share/nginx/html",
    )
    files = nginx.files(container, spec, lookup)
    assert files["/usr/share/nginx/html/pages/home.html"] == "<h1>v2</h1>"
    assert "/usr/share/nginx/html/index.html" not in files
    container, spec = volume_pod(
        {"configMap": {"name": "site"}}, mount_path="/usr/share/nginx/html/index.html", subPath="index.html"
    )
    files = nginx.files(container, spec, lookup)
    assert files["/usr/share/nginx/html/index.html"] == "<h1>v2</h1>"
    assert "/usr/share/nginx/html/50x.html" in files


# -- templates -----------------------------------------------------------------------------------------------


def test_templates_take_the_first_non_empty_alternative() -> None:
    template = parse_template("{env.MESSAGE|config.message|'greetings from v{version}'}!")
    values = {"version": "1.0.0", "config.message": "from config"}
    assert template.render(values.get) == "from config!"
    assert template.render({"version": "1.0.0"}.get) == "greetings from v1.0.0!"
    assert template.render({"env.MESSAGE": "env wins", "config.message": "x"}.get) == "env wins!"


def test_braces_that_are_not_placeholders_stay_literal() -> None:
    template = parse_template('{"level":"info","pod":"{pod}"} { color: red } {{pod}')
    assert template.render({"pod": "web-1"}.get) == '{"level":"info","pod":"web-1"} { color: red } {pod}'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{podname}", "unknown placeholder {podname}"),
        ("{env.}", "needs a name after 'env.'"),
        ("{pod", "unclosed placeholder"),
        ("{pod|'x}", "unterminated quoted text"),
        ("{pod version}", "unexpected 'v'"),
    ],
)
def test_bad_templates_are_rejected(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("{", r"\{").replace("}", r"\}").replace("|", r"\|")):
        parse_template(text)


def test_http_json_shows_version_pod_and_configuration(catalogue) -> None:
    podinfo = behaviour(catalogue, "ghcr.io/driftlab/podinfo:1.1.0")
    status, body = podinfo.http_response("web-1", {}, {})
    assert status == 200
    assert json.loads(body) == {
        "hostname": "web-1",
        "version": "1.1.0",
        "message": "greetings from podinfo v1.1.0",
    }
    _, body = podinfo.http_response("web-1", {}, {"message": "from the ConfigMap"})
    assert json.loads(body)["message"] == "from the ConfigMap"
    _, body = podinfo.http_response("web-1", {"MESSAGE": "from env"}, {"message": "from the ConfigMap"})
    assert json.loads(body)["message"] == "from env"
    assert podinfo.http_response("web-1", {}, {}, path="/healthz") == (200, '{\n  "status": "OK"\n}\n')
    v2 = behaviour(catalogue, "ghcr.io/driftlab/podinfo:2.0.0")
    assert json.loads(v2.http_response("web-2", {"COLOR": "teal"}, {})[1])["color"] == "teal"


def test_nginx_serves_its_welcome_page_or_the_mounted_site(catalogue) -> None:
    nginx = behaviour(catalogue, "nginx:1.25")
    status, body = nginx.http_response("web-1", {}, {})
    assert status == 200
    assert "<title>Welcome to nginx!</title>" in body
    assert "nginx/1.25.5" in body
    status, body = nginx.http_response("web-1", {}, {}, path="/missing")
    assert status == 404
    assert "<center>nginx/1.25.5</center>" in body
    container, spec = volume_pod({"configMap": {"name": "site"}}, mount_path="/usr/share/nginx/html")
    lookup = StaticLookup([configmap("site", **{"index.html": "<h1>Blue</h1>\n"})])
    files = nginx.files(container, spec, lookup)
    assert nginx.http_response("web-1", {}, {}, files=files) == (200, "<h1>Blue</h1>\n")
    assert nginx.http_response("web-1", {}, {}, files={})[0] == 403


def test_answers_only_on_the_listening_port(catalogue) -> None:
    nginx = behaviour(catalogue, "nginx")
    assert nginx.listens_on(80)
    assert not nginx.listens_on(8080)
    with pytest.raises(NotListening):
        nginx.http_response("web-1", {}, {}, port=8080)
    with pytest.raises(NotListening):
        behaviour(catalogue, "busybox").http_response("bb", {}, {})


def test_access_log_lines(catalogue) -> None:
    nginx = behaviour(catalogue, "nginx:1.25")
    request = nginx.http_request("web-1", {}, {}, path="/", now=START)
    answer = nginx.http_answer(request)
    assert answer.headers["Server"] == "nginx/1.25.5"
    line = nginx.access_log_line(request, answer, client="10.244.0.1", user_agent="curl/8.5.0")
    assert (
        line == '10.244.0.1 - - [01/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 '
        f'{len(answer.body)} "-" "curl/8.5.0" "-"'
    )


# -- run plans -----------------------------------------------------------------------------------------------


def test_podinfo_2_crashes_without_color_and_runs_with_it(catalogue) -> None:
    podinfo = behaviour(catalogue, "ghcr.io/driftlab/podinfo:2.0.0")
    crashing = podinfo.plan({"name": "app"}, pod(), StaticLookup())
    assert crashing.exit is not None
    assert (crashing.exit.code, crashing.exit.after, crashing.exit.reason) == (1, 0.0, "Error")
    lines = texts(crashing)
    assert json.loads(lines[-1])["level"] == "fatal"
    assert "COLOR is not set" in lines[-1]
    assert not any("Starting HTTP Server" in line for line in lines)
    running = podinfo.plan(
        {"name": "app", "env": [color_from()]}, pod(), StaticLookup([configmap("settings", color="red")])
    )
    assert running.exit is None
    assert json.loads(texts(running)[-1])["color"] == "red"
    assert json.loads(texts(running)[0])["ts"] == "2024-05-01T10:00:00.000Z"


def test_crashy_exits_after_two_seconds_with_its_error(catalogue) -> None:
    plan = behaviour(catalogue, "ghcr.io/driftlab/crashy:1.0.0").plan({"name": "c"}, pod("crashy-1"), StaticLookup())
    assert plan.exit is not None
    assert (plan.exit.code, plan.exit.after, plan.exit.reason) == (1, 2.0, "Error")
    assert [line.at for line in plan.logs(10, started_at=START)] == [0.0, 0.0, 2.0, 2.0]
    lines = texts(plan)
    assert lines[0] == "2024-05-01T10:00:00.000Z INFO  crashy 1.0.0 starting on crashy-1"
    assert (
        lines[-1] == "2024-05-01T10:00:02.000Z FATAL cannot reach the database after 3 attempts, exiting with status 1"
    )
    assert texts(plan, until=1) == lines[:2]


def test_slow_ready_and_unhealthy_probe_timelines(catalogue) -> None:
    slow = behaviour(catalogue, "ghcr.io/driftlab/slow-ready").plan({"name": "s"}, pod(), StaticLookup())
    assert not slow.ready(4.9)
    assert slow.ready(5.0)
    assert slow.next_change(0) == 5.0
    probe = {"httpGet": {"path": "/healthz", "port": 8080}}
    assert slow.probe("readiness", probe, 1).message == "HTTP probe failed with statuscode: 503"
    assert slow.probe("readiness", probe, 6).success
    sick = behaviour(catalogue, "ghcr.io/driftlab/unhealthy:1.0.0").plan(
        {"name": "u", "ports": [{"name": "http", "containerPort": 8080}]}, pod(), StaticLookup()
    )
    liveness = {"httpGet": {"path": "/healthz", "port": "http"}}
    assert sick.probe("liveness", liveness, 9.9).success
    assert sick.probe("liveness", liveness, 10) == sick.probe("liveness", liveness, 100)
    assert sick.probe("liveness", liveness, 10).message == "HTTP probe failed with statuscode: 500"
    assert sick.probe("readiness", liveness, 100).success


def test_probes_on_a_port_nothing_listens_on_are_refused(catalogue) -> None:
    plan = behaviour(catalogue, "nginx").plan({"name": "web"}, pod(), StaticLookup())
    assert plan.probe("readiness", {"httpGet": {"path": "/", "port": 8080}}, 5).message == (
        'Get "http://10.244.0.7:8080/": dial tcp 10.244.0.7:8080: connect: connection refused'
    )
    assert plan.probe("liveness", {"tcpSocket": {"port": 8080}}, 5).message == (
        "dial tcp 10.244.0.7:8080: connect: connection refused"
    )
    assert plan.probe("readiness", {"httpGet": {"path": "/", "port": 80}}, 5).success


def test_memory_limit_below_the_image_need_is_OOMKilled(catalogue) -> None:
    nginx = behaviour(catalogue, "nginx")
    plan = nginx.plan({"name": "web", "resources": {"limits": {"memory": "4Mi"}}}, pod(), StaticLookup())
    assert plan.exit is not None
    assert (plan.exit.code, plan.exit.reason) == (137, "OOMKilled")
    assert nginx.plan({"name": "web", "resources": {"limits": {"memory": "64Mi"}}}, pod(), StaticLookup()).exit is None


# -- busybox: the container's command ------------------------------------------------------------------------


def run(catalogue, container: dict, image: str = "busybox:1.36"):
    return behaviour(catalogue, image).plan({"name": "box", **container}, pod("box"), StaticLookup())


def test_echo_prints_and_completes(catalogue) -> None:
    plan = run(catalogue, {"command": ["echo", "Hello", "from", "a", "Job"]})
    assert plan.exit is not None
    assert (plan.exit.code, plan.exit.reason, plan.exit.after) == (0, "Completed", 0.0)
    assert texts(plan) == ["Hello from a Job"]


def test_sleep_keeps_running_and_ignores_sigterm(catalogue) -> None:
    plan = run(catalogue, {"command": ["sleep", "infinity"]})
    assert plan.exit is None
    assert not plan.stops_on_sigterm
    timed = run(catalogue, {"args": ["sleep", "3600"]})
    assert timed.exit is not None and timed.exit.after == 3600.0


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (["sh", "-c", "exit 1"], 1),
        (["/bin/sh", "-c", "false"], 1),
        (["sh", "-c", "echo hi && exit 3"], 3),
        (["sh", "-c", "nosuchtool --flag"], 127),
        (["sh", "-ec", "false; echo unreachable"], 1),
        (["sh", "-c", "test -f /etc/missing || exit 4"], 4),
    ],
)
def test_failing_commands_exit_with_their_code(catalogue, command: list[str], code: int) -> None:
    plan = run(catalogue, {"command": command})
    assert plan.exit is not None
    assert (plan.exit.code, plan.exit.reason) == (code, "Error")


def test_shell_scripts_use_env_files_and_time(catalogue) -> None:
    container = {
        "command": ["sh", "-c"],
        "args": [
            'echo "greeting: $GREETING"; for i in 1 2 3; do echo "count $i"; sleep 1; done; '
            "cat /config/color; echo; echo \"$(date) done on $(hostname)\"; printf '%s=%d\\n' n 42"
        ],
        "env": [{"name": "GREETING", "value": "hi"}],
        "volumeMounts": [{"name": "cfg", "mountPath": "/config"}],
    }
    spec = pod("box", volumes=[{"name": "cfg", "configMap": {"name": "settings"}}], containers=[container])
    plan = behaviour(catalogue, "busybox").plan(container, spec, StaticLookup([configmap("settings", color="blue")]))
    assert plan.exit is not None and plan.exit.after == 3.0
    assert [(line.at, line.text) for line in plan.logs(10, started_at=START)] == [
        (0.0, "greeting: hi"),
        (0.0, "count 1"),
        (1.0, "count 2"),
        (2.0, "count 3"),
        (3.0, "blue"),
        (3.0, "Wed May  1 10:00:03 UTC 2024 done on box"),
        (3.0, "n=42"),
    ]


def test_globs_match_the_mounted_files(catalogue) -> None:
    container = {
        "command": ["sh", "-c", 'for f in /config/*; do echo "$f=$(cat $f)"; done; echo /none/* "/config/*"'],
        "volumeMounts": [{"name": "cfg", "mountPath": "/config"}],
    }
    spec = pod("box", volumes=[{"name": "cfg", "configMap": {"name": "settings"}}], containers=[container])
    lookup = StaticLookup([configmap("settings", color="blue", size="xl")])
    plan = behaviour(catalogue, "busybox").plan(container, spec, lookup)
    assert texts(plan) == ["/config/color=blue", "/config/size=xl", "/none/* /config/*"]


def test_endless_loops_log_periodically_and_never_exit(catalogue) -> None:
    plan = run(catalogue, {"command": ["sh", "-c", 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 5; done']})
    assert plan.exit is None
    assert texts(plan, until=12) == ["tick 1", "tick 2", "tick 3"]
    assert [line.text for line in plan.logs(12, since=6, started_at=START)] == ["tick 3"]


def test_shell_errors_look_like_busybox(catalogue) -> None:
    plan = run(catalogue, {"command": ["sh", "-c", "cat /nope; ls /nope; while true; do echo x"]})
    assert texts(plan) == ['sh: syntax error: unexpected end of file (expecting "done")']
    assert plan.exit is not None and plan.exit.code == 2
    plan = run(catalogue, {"command": ["sh", "-c", "cat /nope; ls /nope"]})
    assert texts(plan) == [
        "cat: can't open '/nope': No such file or directory",
        "ls: /nope: No such file or directory",
    ]


def test_a_missing_program_is_a_StartError(catalogue) -> None:
    plan = run(catalogue, {"command": ["myapp", "--serve"]})
    assert plan.exit is not None
    assert (plan.exit.code, plan.exit.reason) == (128, "StartError")
    assert 'exec: "myapp": executable file not found in $PATH' in plan.exit.message


def test_busybox_without_a_command_exits_at_once(catalogue) -> None:
    plan = run(catalogue, {})
    assert plan.exit is not None and (plan.exit.code, plan.exit.after) == (0, 0.0)


def test_trapping_sigterm_makes_the_shell_stop_on_it(catalogue) -> None:
    plan = run(catalogue, {"command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]})
    assert plan.stops_on_sigterm
    assert plan.exit is None


def test_command_overrides_on_app_images_run_the_command(catalogue) -> None:
    plan = run(catalogue, {"command": ["sh", "-c", "echo $NGINX_VERSION; sleep 2"]}, image="nginx:1.25")
    assert texts(plan) == ["1.25.5"]
    assert plan.exit is not None and plan.exit.after == 2.0
    app = run(catalogue, {"args": ["--port", "9898"]}, image="ghcr.io/driftlab/podinfo:1.0.0")
    assert app.exit is None
    assert "Starting podinfo" in texts(app)[0]


def test_exec_liveness_follows_files_the_command_creates(catalogue) -> None:
    plan = run(catalogue, {"args": ["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"]})
    probe = {"exec": {"command": ["cat", "/tmp/healthy"]}}
    assert plan.probe("liveness", probe, 10).success
    failed = plan.probe("liveness", probe, 35)
    assert not failed.success
    assert failed.message == "cat: can't open '/tmp/healthy': No such file or directory"
    assert plan.probe("liveness", {"exec": {"command": ["sh", "-c", "test -e /tmp/healthy"]}}, 31).success is False


def test_exec_probes_with_unknown_programs_follow_the_catalogue_outcome(catalogue) -> None:
    plan = behaviour(catalogue, "ghcr.io/driftlab/slow-ready").plan({"name": "s"}, pod(), StaticLookup())
    probe = {"exec": {"command": ["/bin/grpc_health_probe", "-addr=:8080"]}}
    assert not plan.probe("readiness", probe, 1).success
    assert plan.probe("readiness", probe, 6).success


# -- catalogue files -----------------------------------------------------------------------------------------

LAB = """\
# lab catalogue
- name: nginx
  strict: true
  tags:
    "1.25": {}
- name: ghcr.io/acme/shop
  strict: true
  default:
    http:
      port: 8080
      json: {version: "{version}", pod: "{pod}"}
    logs:
      start: ["shop {version} up"]
      periodic: {every: 10, lines: ["heartbeat {n}"]}
  tags:
    1.0.0: {}
    1.1.0:
      version: 1.1.0-rc1
      requires:
        config: [discount]
        files: [/etc/shop/prices.json]
      crash:
        exit_code: 2
        after: 30
        when: {env_equals: {MODE: broken}}
      logs:
        crash: ["shop exiting with {exit_code}"]
"""


def test_a_lab_catalogue_replaces_repositories_by_name(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    path.write_text(LAB)
    lab = load_catalogue(path)
    assert isinstance(lab.resolve("docker.io/library/nginx:1.25"), ImageBehaviour)
    assert isinstance(lab.resolve("nginx:1.26"), PullFailure)
    assert isinstance(lab.resolve("ghcr.io/driftlab/podinfo:1.0.0"), ImageBehaviour)
    shop = lab.resolve("ghcr.io/acme/shop:1.0.0")
    assert isinstance(shop, ImageBehaviour)
    plan = shop.plan({"name": "shop"}, pod("shop-1"), StaticLookup())
    assert texts(plan, until=25) == ["shop 1.0.0 up", "heartbeat 1", "heartbeat 2"]
    assert json.loads(shop.http_response("shop-1", {}, {})[1]) == {"version": "1.0.0", "pod": "shop-1"}


def test_tags_merge_over_the_default_and_requirements_and_conditions_apply(tmp_path: Path) -> None:
    lab = parse_catalogue(LAB, "images.yaml")
    shop = lab.resolve("ghcr.io/acme/shop:1.1.0")
    assert isinstance(shop, ImageBehaviour)
    assert shop.version == "1.1.0-rc1"
    assert shop.http_port == 8080
    plan = shop.run_plan({}, pod=pod("shop-1"), files={}, config={})
    assert plan.exit is not None and plan.exit.code == 1
    assert texts(plan)[1:] == [
        'error: configuration key "discount" not found in the environment or mounted files',
        "error: open /etc/shop/prices.json: no such file or directory",
    ]
    ready = {"files": {"/etc/shop/prices.json": "{}"}, "config": {"discount": "10"}, "pod": pod("shop-1")}
    assert shop.run_plan({}, **ready).exit is None
    broken = shop.run_plan({"MODE": "broken"}, **ready)
    assert broken.exit is not None and (broken.exit.code, broken.exit.after) == (2, 30.0)
    assert texts(broken)[-1] == "shop exiting with 2"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "- name: acme/app\n  tags:\n    1.0.0:\n      crash:\n        afterr: 2\n",
            'images.yaml:5:9: [0].tags["1.0.0"].crash: unknown field "afterr"',
        ),
        (
            "- name: acme/app\n  default:\n    readiness: {pass_after: soon}\n",
            "images.yaml:3:29: [0].default.readiness.pass_after: Input should be a valid number",
        ),
        (
            "- name: acme/app\n  default:\n    logs:\n      start:\n        - ok\n        - 'hello {podd}'\n",
            "images.yaml:6:11: [0].default.logs.start[1]: unknown placeholder {podd}",
        ),
        (
            "- name: acme/app:1.0\n",
            "images.yaml:1:9: [0].name: repository name 'acme/app:1.0' must not include a tag",
        ),
        ("- strict: true\n", 'images.yaml:1:3: [0]: missing required field "name"'),
        ("- name: a\n  strict: true\n  strict: false\n", 'images.yaml:3:3: duplicate key "strict"'),
        ("- name: a\n  tags: [1, 2\n", "images.yaml:3:1: expected ',' or ']'"),
        ("name: a\n", "images.yaml:1:1: the image catalogue must be a list of repositories"),
        (
            "- name: a\n  tags:\n    latest: {same_as: '9'}\n",
            'images.yaml:3:23: [0].tags.latest.same_as: unknown tag "9"',
        ),
        (
            "- name: a\n- name: docker.io/library/a\n",
            "images.yaml:2:9: [1].name: repository docker.io/library/a is",
        ),
        (
            "- name: a\n  default:\n    http: {body: x, json: {a: b}}\n",
            "images.yaml:3:11: [0].default.http: give either body or json, not both",
        ),
        ("- name: a\n  tag_pattern: '(('\n", "images.yaml:2:16: [0].tag_pattern: invalid regular expression"),
    ],
)
def test_a_broken_catalogue_reports_file_line_and_column(text: str, error: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, "images.yaml")
    assert caught.value.errors[0].startswith(error), caught.value.errors


def test_every_error_of_a_file_is_reported_in_line_order() -> None:
    text = "- name: a\n  strictt: true\n- name: b\n  default:\n    user: 1000\n    runs: script\n"
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, "images.yaml")
    assert [error.split(": ")[0] for error in caught.value.errors] == ["images.yaml:2:3", "images.yaml:6:11"]


def test_versions_stay_text_in_yaml() -> None:
    lab = parse_catalogue("- name: a\n  strict: true\n  tags:\n    1.10: {}\n    '2': {version: 2.10}\n")
    assert behaviour(lab, "a:1.10").version == "1.10"
    assert behaviour(lab, "a:2").version == "2.10"


def test_an_unreadable_catalogue_is_a_catalogue_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read the image catalogue"):
        load_catalogue(tmp_path / "missing.yaml")


def test_the_built_in_catalogue_covers_the_course_images(catalogue) -> None:
    for image in [
        "nginx",
        "busybox",
        "ghcr.io/driftlab/podinfo:1.0.0",
        "ghcr.io/driftlab/podinfo:1.1.0",
        "ghcr.io/driftlab/podinfo:2.0.0",
        "ghcr.io/driftlab/crashy",
        "ghcr.io/driftlab/slow-ready",
        "ghcr.io/driftlab/unhealthy",
    ]:
        assert behaviour(catalogue, image).known


# -- malformed input never escapes as a Python error ---------------------------------------------------------


@pytest.mark.parametrize(
    "container",
    [
        {},
        {"env": "nope", "envFrom": [None, 3], "volumeMounts": [{"name": 1}], "command": "sh"},
        {
            "env": [
                {
                    "name": "A",
                    "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "bogus"}},
                }
            ]
        },
        {
            "env": [{"valueFrom": None}, {"name": "B", "valueFrom": {"configMapKeyRef": None}}],
            "args": [1, None],
        },
        {
            "securityContext": {"runAsNonRoot": True, "runAsUser": "x"},
            "resources": {"limits": {"memory": "lots"}},
        },
    ],
)
def test_malformed_specs_do_not_raise(catalogue, container: dict) -> None:
    for image in ("nginx", "busybox", "ghcr.io/driftlab/podinfo:2.0.0"):
        found = behaviour(catalogue, image)
        broken_pod = {"metadata": None, "spec": {"volumes": "x", "securityContext": []}}
        found.start_check(container, broken_pod, StaticLookup())
        plan = found.plan(container, broken_pod, StaticLookup())
        plan.logs(5, started_at=START)
        plan.probe("readiness", {"httpGet": None}, 1)
