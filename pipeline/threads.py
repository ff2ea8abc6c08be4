"""Single-threaded BLAS for feature code: threaded sums change the last bits of results."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas():
    """Context manager: BLAS uses one thread inside it (cheap to enter), so stored features
    are the same bytes in the parent, in joblib workers and on a dask cluster."""
    return _controller().limit(limits=1, user_api="blas")
