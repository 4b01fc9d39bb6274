"""Background jobs: the timer worker and the notification dispatcher (APScheduler entry points)."""
