"""The lab's local Git server: git's own smart-HTTP backend, repo seeding, and push events.

- `server.GitServer`: the aiohttp application that serves `<root>/<name>.git` through `git http-backend`.
- `credentials.Credentials`: the lab's learner (fetch and push) and deploy (fetch only) accounts.
- `seed.seed_repo` / `seed.seed_repos`: bare repositories with a short history from `labs/<lab>/repos/`.
- `client.clone_url` / `client.git_env`: what a learner's git (or an agent's) needs, for processes other
  than the server's.
- `hooks`: the post-receive hook that turns each push into `events.PushEvent`s.

This module imports nothing, so `engine.gitserver.events` stays cheap for the packages that only need it.
"""
