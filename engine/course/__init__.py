"""Courses as code: the model of course.yaml and lab.yaml, a loader that reports problems as FILE:LINE:COL,
the JSON Schema for editors, and the list of shipped courses."""

from .catalog import CourseEntry, list_courses
from .manifests import load_manifests
from .model import Course, Lab, SetupAction, Solution, Step
from .problems import CourseError, Problem
from .schema import course_schema, schema_text
from .validate import COURSE_FILE, LAB_FILE, find_lab, load_course, load_lab, validate_course

__all__ = [
    "COURSE_FILE",
    "LAB_FILE",
    "Course",
    "CourseEntry",
    "CourseError",
    "Lab",
    "Problem",
    "SetupAction",
    "Solution",
    "Step",
    "course_schema",
    "find_lab",
    "list_courses",
    "load_course",
    "load_lab",
    "load_manifests",
    "schema_text",
    "validate_course",
]
