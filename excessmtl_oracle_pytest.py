"""The pytest plugin of excessmtl-oracle (the ``pytest11`` entry point in pyproject.toml): the
fixture ``excessmtl_conformance``, which is ``proofs_check.testing.assert_conforms``, for a port's
test suite::

    def test_my_port_is_excessmtl(excessmtl_conformance):
        excessmtl_conformance(MyExcessMTL, convention="paper", allowed={"warmup"})

It is a top-level module of its own so that being registered costs every pytest run in the
environment nothing: ``proofs_check`` (NumPy, SciPy, the claims) is imported only when a test
asks for the fixture. Without an install, enable it with ``pytest -p excessmtl_oracle_pytest``.
"""

import pytest


@pytest.fixture
def excessmtl_conformance():
    """``proofs_check.testing.assert_conforms`` (docs/conformance.md)."""
    from proofs_check.testing import assert_conforms
    return assert_conforms
