"""The worker side (composition root): Celery tasks, the beat tick, the one list of every domain's timed jobs."""
