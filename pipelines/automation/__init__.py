"""When padu runs by itself: schedules and the landing-folder sensor (``schedules``), and the
sensor that records failed runs (``failure_audit``)."""
