"""Periodic jobs: the schedule (schedule.yaml), thin wrappers around the apps' services, the runner
that records every run and keeps jobs that must not overlap apart, and the Huey tasks built from the
schedule. See docs/operations.md."""
