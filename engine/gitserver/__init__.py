"""The lab's local Git server: git's own smart-HTTP backend, repo seeding, and push events."""
