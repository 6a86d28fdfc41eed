"""Every path a course or lab names stays inside its folder: `..`, absolute paths and symbolic links that lead out
are refused by the validator at the line that names them, and by the model when a path is used."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.course import CourseError, load_course, load_lab, validate_course
from engine.course.assets import AssetPathError
from engine.course.model import Lab

COURSE = """title: Paths
summary: Paths that lead out of the folder.
duration: 5m
level: beginner
lab: {lab}
steps:
  - id: one
    title: One
    instructions: {instructions}
    setup: {setup}
    solution: {solution}
"""


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A course repository (courses/ and labs/ side by side) with a secret file outside both."""
    (tmp_path / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: leaked}\n")
    (tmp_path / "secret.md").write_text("not for learners\n")
    lab = tmp_path / "labs" / "plain"
    lab.mkdir(parents=True)
    (lab / "lab.yaml").write_text("title: Plain\n")
    (tmp_path / "courses" / "paths").mkdir(parents=True)
    return tmp_path


def write_course(
    repository: Path,
    *,
    instructions: str = "Hello",
    setup: str = "[]",
    solution: str = "null",
    lab: str = "plain",
) -> Path:
    folder = repository / "courses" / "paths"
    text = COURSE.format(lab=lab, instructions=instructions, setup=setup, solution=solution)
    (folder / "course.yaml").write_text(text)
    return folder


def messages(folder: Path) -> list[str]:
    return [f"{problem.line}:{problem.column}: {problem.message}" for problem in validate_course(folder)]


# ----------------------------------------------------------------------------------------------------
# Course: instructions files, setup apply and delete manifests, solution file edits


@pytest.mark.parametrize(
    ("instructions", "expected"),
    [
        ("{file: ../../secret.md}", "9:26: instructions file '../../secret.md' points outside the course's folder"),
        (
            "{file: /etc/hostname}",
            "9:26: instructions file '/etc/hostname' is an absolute path; name a path inside the course's folder",
        ),
        ("{file: a/../../x.md}", "9:26: instructions file 'a/../../x.md' points outside the course's folder"),
        ('{file: ""}', "9:26: instructions file '' is empty; name a path inside the course's folder"),
        ('{file: "a\\0b.md"}', "9:26: instructions file 'a\\x00b.md' contains a NUL character"),
    ],
)
def test_an_instructions_file_outside_the_course_is_refused(repository: Path, instructions: str, expected: str) -> None:
    assert messages(write_course(repository, instructions=instructions)) == [expected]


def test_an_instructions_file_through_a_symlink_out_is_refused(repository: Path) -> None:
    folder = write_course(repository, instructions="{file: step.md}")
    (folder / "step.md").symlink_to(repository / "secret.md")
    [message] = messages(folder)
    assert message.startswith("9:26: instructions file 'step.md' is a symbolic link (or passes through one) to ")
    assert message.endswith("secret.md, outside the course's folder")


def test_a_symlink_that_stays_inside_the_course_is_fine(repository: Path) -> None:
    folder = write_course(repository, instructions="{file: step.md}")
    (folder / "real.md").write_text("# Step\n")
    (folder / "step.md").symlink_to("real.md")
    assert messages(folder) == []
    course = load_course(folder)
    assert course.instructions(course.steps[0]) == "# Step\n"


@pytest.mark.parametrize("action", ["apply", "delete"])
@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("../../secret.yaml", "'../../secret.yaml' points outside the course's folder"),
        ("/etc/passwd", "'/etc/passwd' is an absolute path; name a path inside the course's folder"),
        ("~/secret.yaml", "'~/secret.yaml' is an absolute path; name a path inside the course's folder"),
    ],
)
def test_a_setup_manifest_outside_the_course_is_refused(
    repository: Path, action: str, target: str, problem: str
) -> None:
    folder = write_course(repository, setup=f"[{{{action}: '{target}'}}]")
    column = 16 + len(action)
    assert messages(folder) == [f"10:{column}: manifest {problem}"]


def test_a_setup_manifest_symlinked_out_is_refused(repository: Path) -> None:
    folder = write_course(repository, setup="[{apply: leak.yaml}]")
    (folder / "leak.yaml").symlink_to(repository / "secret.yaml")
    [message] = messages(folder)
    assert message.startswith("10:21: manifest 'leak.yaml' is a symbolic link (or passes through one) to ")


def test_a_setup_folder_symlinked_out_is_refused(repository: Path) -> None:
    folder = write_course(repository, setup="[{apply: manifests}]")
    (folder / "manifests").symlink_to(repository)
    [message] = messages(folder)
    assert message.startswith("10:21: manifest 'manifests' is a symbolic link (or passes through one) to ")


def test_a_file_inside_a_manifest_folder_symlinked_out_is_refused(repository: Path) -> None:
    folder = write_course(repository, setup="[{apply: manifests}]")
    (folder / "manifests").mkdir()
    (folder / "manifests" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n")
    (folder / "manifests" / "leak.yaml").symlink_to(repository / "secret.yaml")
    assert messages(folder) == [
        "10:21: manifest folder 'manifests' holds 'leak.yaml', a symbolic link to a file outside the course's folder"
    ]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../escape.txt", "'../escape.txt' points outside the working folder"),
        ("/etc/cron.d/x", "'/etc/cron.d/x' is an absolute path; name a path inside the working folder"),
        ("app/../../x", "'app/../../x' points outside the working folder"),
    ],
)
def test_a_solution_file_edit_outside_the_working_folder_is_refused(repository: Path, path: str, problem: str) -> None:
    folder = write_course(repository, solution=f"{{files: [{{path: '{path}', content: x}}]}}")
    assert messages(folder) == [f"11:31: the file edit {problem}"]


def test_a_solution_file_edit_inside_is_fine(repository: Path) -> None:
    folder = write_course(repository, solution="{files: [{path: app/./deploy.yaml, content: x}]}")
    assert messages(folder) == []


def test_load_course_raises_for_a_path_out(repository: Path) -> None:
    folder = write_course(repository, instructions="{file: ../../secret.md}")
    with pytest.raises(CourseError, match="points outside the course's folder"):
        load_course(folder)


# ----------------------------------------------------------------------------------------------------
# Lab: seed and bootstrap manifests, the image catalogue, repo seed folders


def write_lab(repository: Path, text: str) -> Path:
    folder = repository / "labs" / "plain"
    (folder / "lab.yaml").write_text("title: Plain\n" + text)
    return folder


def lab_messages(folder: Path) -> list[str]:
    with pytest.raises(CourseError) as caught:
        load_lab(folder)
    return [f"{problem.line}:{problem.column}: {problem.message}" for problem in caught.value.problems]


@pytest.mark.parametrize("field", ["seed", "bootstrap"])
def test_a_seed_or_bootstrap_manifest_outside_the_lab_is_refused(repository: Path, field: str) -> None:
    folder = write_lab(repository, f"{field}: [../../secret.yaml, /etc/hostname]\n")
    column = len(field) + 4
    assert lab_messages(folder) == [
        f"2:{column}: {field} manifest '../../secret.yaml' points outside the lab's folder",
        f"2:{column + 19}: {field} manifest '/etc/hostname' is an absolute path; name a path inside the lab's folder",
    ]


def test_a_seed_folder_with_a_symlink_out_is_refused(repository: Path) -> None:
    folder = write_lab(repository, "seed: [seed]\n")
    (folder / "seed").mkdir()
    (folder / "seed" / "leak.yaml").symlink_to(repository / "secret.yaml")
    assert lab_messages(folder) == [
        "2:8: seed manifest folder 'seed' holds 'leak.yaml', a symbolic link to a file outside the lab's folder"
    ]


def test_an_image_catalogue_outside_the_lab_is_refused(repository: Path) -> None:
    (repository / "images.yaml").write_text("[]\n")
    folder = write_lab(repository, "images: ../../images.yaml\n")
    assert lab_messages(folder) == ["2:9: image catalogue '../../images.yaml' points outside the lab's folder"]


def test_the_conventional_image_catalogue_symlinked_out_is_refused(repository: Path) -> None:
    (repository / "images.yaml").write_text("[]\n")
    folder = write_lab(repository, "")
    (folder / "images.yaml").symlink_to(repository / "images.yaml")
    [message] = lab_messages(folder)
    assert message.startswith("1:1: image catalogue 'images.yaml' is a symbolic link (or passes through one) to ")


@pytest.mark.parametrize("link", ["repos/app", "repos"])
def test_a_repo_seed_folder_symlinked_out_is_refused(repository: Path, link: str) -> None:
    folder = write_lab(repository, "repos: [{name: app}]\n")
    outside = repository / "elsewhere"
    (outside / "app").mkdir(parents=True)
    (folder / "repos").mkdir()
    if link == "repos/app":
        (folder / "repos" / "app").symlink_to(outside / "app")
    else:
        (folder / "repos").rmdir()
        (folder / "repos").symlink_to(outside)
    [message] = lab_messages(folder)
    assert message.startswith(
        "2:16: the seed content of repo 'app', 'repos/app' is a symbolic link (or passes through one) to "
    )


def test_the_model_refuses_a_path_out_when_it_is_used(tmp_path: Path) -> None:
    """A Lab built without the validator (in code) still cannot hand out a path outside its folder."""
    lab = Lab.model_validate({"title": "x", "seed": ["../x.yaml"], "images": "/etc/hostname"})
    lab.bind(tmp_path / "lab.yaml")
    with pytest.raises(AssetPathError, match="points outside the lab's folder"):
        lab.seed_paths()
    with pytest.raises(AssetPathError, match="is an absolute path"):
        lab.images_path()


def test_every_shipped_lab_stays_inside_its_folder() -> None:
    """The labs driftlab ships (and their courses) validate clean under these rules."""
    repo = Path(__file__).resolve().parents[2]
    for folder in sorted((repo / "labs").iterdir()):
        if (folder / "lab.yaml").is_file():
            load_lab(folder)
