import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The test files already run on one pytest-xdist worker per core: verify's own pool of workers
# (proofs_check.pool) would only oversubscribe the cores, so each test process runs its jobs
# serially unless a test asks for workers (tests/test_pool.py does).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("EXCESSMTL_ORACLE_WORKERS", "1")
