"""Labs: a course's cluster brought up, seeded and set up for the learner's step; progress; trust; self-test.

- `lab.LabRuntime`: `up`, `down`, `status`, `reset`, `check`, `kubeconfig_text` for one course.
- `progress.ProgressStore`: what each learner did, in SQLite under DRIFTLAB_HOME.
- `runner.ActionRunner`: setup actions through a shell and the real kubectl.
- `coursetest.run_course_test`: `driftlab course test`. `terminal.TypedShell` types solutions into bash.
- `trust`: which courses may run shell code. `shell`: `driftlab shell`.

Submodules are imported where they are used, so `driftlab --help` stays fast.
"""
