"""Labs: a course's cluster brought up, seeded and set up for the learner's step; progress; trust; self-test.

- `lab.LabRuntime`: `up`, `down`, `status`, `reset`, `check`, `kubeconfig_text` for one course.
- `progress.ProgressStore`: what each learner did, in SQLite under DRIFTLAB_HOME.
- `runner.ActionRunner`: setup actions through a shell and the real kubectl.
- `coursetest.run_course_test`: `driftlab course test`. `terminal.TypedShell` types solutions into bash.
- `trust`: which courses may run shell code. `shell`: `driftlab shell`.
- For front ends (the TUI), with no UI toolkit: `session.LabSession` (starting, watching and moving through a
  course), `catalogue` (the course picker's list), `feeds` (the lab panel's live sources: resources and GitOps
  agents by watches, Git and pipelines re-read), `resources_view` (pure renderers of their rows), `demo`
  (demo mode: a solution typed into bash with a human rhythm, its screen emulated with pyte).

Submodules are imported where they are used, so `driftlab --help` stays fast.
"""
