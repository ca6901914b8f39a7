"""Hypothesis settings for the property tests: no per-example deadline and no "too slow" health
check (the machine may be busy: a slow example is not a wrong one), and a fixed number of
examples per test (set there), so the whole folder runs in well under a minute."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "moviebot", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("moviebot")
